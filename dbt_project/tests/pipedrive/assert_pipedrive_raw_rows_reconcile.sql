-- Per raw Pipedrive table: raw rows = rows the staging model stands for (sum of source_rows_count, i.e.
-- staged rows + collapsed duplicates) + rejected rows. Returns the tables that do not reconcile.
{#- Dagster shows this test as a check on the rejects model, where the rows it accounts for end up. -#}
{{ config(meta={'dagster': {'ref': {'name': 'stg_pipedrive__rejects'}}}) }}
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
            (select coalesce(sum(source_rows_count), 0) from {{ ref(staging_model) }}) as staged_rows,
            (
                select count(*)
                from {{ ref('stg_pipedrive__rejects') }}
                where source_table = '{{ source_table }}'
            ) as rejected_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    source_table,
    raw_rows,
    staged_rows,
    rejected_rows
from counts
where raw_rows <> staged_rows + rejected_rows
