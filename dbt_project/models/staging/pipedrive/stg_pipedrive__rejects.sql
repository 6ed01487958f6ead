{#-
  Every raw Pipedrive row that cannot be typed, with the reason and its raw values. Per raw table:
  raw rows = sum(source_rows_count) of the staging model + rejected rows (stg_pipedrive__table_reconciliation).
-#}
{%- set tables = [
    ('deal_changes', 'base_pipedrive__deal_changes'),
    ('activity', 'base_pipedrive__activities'),
    ('activity_types', 'base_pipedrive__activity_types'),
    ('stages', 'base_pipedrive__stages'),
    ('users', 'base_pipedrive__users'),
    ('fields', 'base_pipedrive__fields'),
] -%}
with

unioned as (

    {% for source_table, base_model in tables %}
        select
            '{{ source_table }}' as source_table,
            reject_reason,
            raw_values,
            {{ loader_lineage() }}
        from {{ ref(base_model) }}
        where reject_reason is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        {{ crm_surrogate_key(['source_table', '_load_id', '_source_line']) }} as reject_id,
        source_table,
        reject_reason,
        raw_values,
        {{ loader_lineage() }}
    from unioned

)

select * from final
