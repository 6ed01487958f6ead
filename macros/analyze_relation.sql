{#-
  Post-hook (dbt_project.yml, every model): ANALYZE a table the run just built, so the next model of the same
  run is planned on real statistics. CREATE TABLE AS leaves a table without any, and autovacuum comes too
  late for a model that reads it seconds later: on default estimates Postgres picks nested loops over
  thousands of rows. Views have no statistics of their own: the hook renders to nothing and dbt
  skips it. An incremental run that rewrote part of a table keeps its statistics (its rows look like the
  ones they replace; autovacuum re-analyses a table once a tenth of it changed): a daily run would otherwise
  sample every large table again for a few thousand new rows.
-#}
{% macro analyze_relation() -%}
    {%- set materialized = config.get('materialized') -%}
    {%- if materialized == 'table' or (materialized == 'incremental' and _rewrote_whole_table()) -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- Whether this incremental run (re)built the whole table: the first build, a full refresh, a keyed run in full
    mode, a windowed run that replaced every day. -#}
{% macro _rewrote_whole_table() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(true) }}
    {%- elif keyed_config() is not none -%}
        {{ return(keyed_mode() == 'full') }}
    {%- endif -%}
    {%- set late = window_late() -%}
    {{ return(late is not none and late.all) }}
{%- endmacro %}
