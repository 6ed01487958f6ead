{#-
  The one staging design of every source. A base model (base_<source>__<table>) holds every raw row of its table,
  typed, with its row_disposition - staged, duplicate or rejected - and disposition_reason (null when staged);
  what makes a row a duplicate is the contract's dedupe rule (exact_copies: macros/staging/exact_copies_staging.sql,
  latest_version: macros/field_crm/field_crm_staging.sql). From the base models, each source has:
    stg_<source>__<entity>s          the staged rows (staged_rows);
    stg_<source>__rejects            the rejected rows with their reason (disposition_rejects);
    stg_<source>__file_reconciliation per raw table and file: raw rows = staged + duplicate + rejected
                                     (disposition_reconciliation; `funnel reconcile` reads it).
  `entities` maps each raw table of the source to the entity of its base model (base_<source>__<entity>): an
  argument, not read from the graph, so that dbt records the dependencies while it parses.
-#}

{#- The staged rows of a base model: `columns` (in order), then the lineage; `where` narrows them further. -#}
{% macro staged_rows(base_model, columns, where=none) -%}
    {%- set staged = "row_disposition = 'staged'" ~ (' and ' ~ where if where is not none else '') -%}
    {{ selected_columns(base_model, columns + loader_lineage_columns(), where=staged) }}
{%- endmacro %}

{#- The rejected rows of a source's base models. -#}
{% macro disposition_rejects(source_name, entities) -%}
with

rejected as (
    {% for source_table, entity in entities.items() %}
    {%- set base_model = ref('base_' ~ source_name ~ '__' ~ entity) %}
    select
        '{{ source_table }}' as source_table,
        disposition_reason as reject_reason,
        raw_values,
        {{ loader_lineage() }}
    from {{ base_model }}
    where row_disposition = 'rejected'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from rejected
{%- endmacro %}

{#-
  Per raw table and file: rows landed (counted on the raw table itself), staged, duplicate and rejected, and
  whether they add up.
-#}
{% macro disposition_reconciliation(source_name, entities) -%}
with

counts as (
    {% for source_table, entity in entities.items() %}
    select
        '{{ source_table }}' as source_table,
        _source_file,
        count(*) as raw_rows,
        0 as staged_rows,
        0 as duplicate_rows,
        0 as rejected_rows
    from {{ source(source_name, source_table) }}
    group by _source_file
    union all
    select
        '{{ source_table }}' as source_table,
        _source_file,
        0 as raw_rows,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_' ~ source_name ~ '__' ~ entity) }}
    group by _source_file
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (

    select
        source_table,
        _source_file,
        cast(sum(raw_rows) as bigint) as raw_rows,
        cast(sum(staged_rows) as bigint) as staged_rows,
        cast(sum(duplicate_rows) as bigint) as duplicate_rows,
        cast(sum(rejected_rows) as bigint) as rejected_rows,
        sum(raw_rows) = sum(staged_rows) + sum(duplicate_rows) + sum(rejected_rows) as is_reconciled
    from counts
    group by source_table, _source_file

)

select * from final
{%- endmacro %}
