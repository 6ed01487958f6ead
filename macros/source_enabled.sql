{#- Whether a source's branch of the project is on: var `<source>_enabled`, else FUNNEL_<SOURCE>_ENABLED (set by
    `funnel` from the load ledger), else on. dbt_project.yml spells the same rule for the folder configs, where
    project macros are not available. -#}
{% macro source_enabled(source) -%}
    {%- set fallback = env_var('FUNNEL_' ~ source | upper ~ '_ENABLED', 'true') -%}
    {{- return((var(source ~ '_enabled', fallback) | string | lower) in ('true', '1', 'yes')) -}}
{%- endmacro %}
