{#-
  Post-hook (dbt_project.yml, every model): ANALYZE a table the run just built, so the next model of the same
  run is planned on real statistics. CREATE TABLE AS leaves a table without any, and autovacuum comes too
  late for a model that reads it seconds later: on default estimates Postgres picks nested loops over
  thousands of rows. Views have no statistics of their own: the hook renders to nothing and dbt
  skips it.
-#}
{% macro analyze_relation() -%}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
