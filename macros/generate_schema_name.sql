{#- prod gets clean schema names (staging, intermediate, marts); every other target prefixes them with
    its own schema (dev_staging, ci_marts, ...) so several people and test runs share one server. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.name == 'prod' -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
