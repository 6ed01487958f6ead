{#-
  One row per raw Pipedrive table: raw rows (counted on the raw table) = staged rows + collapsed exact
  copies + rejected rows. Per table, not per file: an exact copy is collapsed into the first row whatever file
  it came in. is_reconciled is tested to be true. The tables are the contract's (`staging` of each table in
  _pipedrive__sources.yml; tests/test_source_contracts.py checks the list).
-#}
{%- set tables = [
    ('deal_changes', 'stg_pipedrive__deal_changes'),
    ('activity', 'stg_pipedrive__activities'),
    ('activity_types', 'stg_pipedrive__activity_types'),
    ('stages', 'stg_pipedrive__stages'),
    ('users', 'stg_pipedrive__users'),
    ('fields', 'stg_pipedrive__fields'),
] %}

with

counts as (

    {% for source_table, staging_model in tables %}
        select
            '{{ source_table }}' as source_table,
            (select count(*) from {{ source('pipedrive', source_table) }}) as raw_rows,
            (select count(*) from {{ ref(staging_model) }}) as staged_rows,
            (select coalesce(sum(source_rows_count), 0) from {{ ref(staging_model) }}) as represented_rows,
            (
                select count(*)
                from {{ ref('stg_pipedrive__rejects') }}
                where source_table = '{{ source_table }}'
            ) as rejected_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        source_table,
        raw_rows,
        staged_rows,
        represented_rows - staged_rows as duplicate_rows,
        rejected_rows,
        raw_rows = represented_rows + rejected_rows as is_reconciled
    from counts

)

select * from final
