{#- Deal field definitions, typed (field_value_options as jsonb); exact duplicates collapse. -#}
with

base as (

    select
        field_id,
        field_key,
        field_name,
        field_value_options,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__fields') }}
    where reject_reason is null

),

final as (

    select
        field_id,
        field_key,
        field_name,
        field_value_options,
        count(*) as source_rows_count,
        (array_agg(_source_file order by _load_id, _source_line))[1] as _source_file,
        (array_agg(_source_line order by _load_id, _source_line))[1] as _source_line,
        min(_load_id) as _load_id,
        min(_loaded_at) as _loaded_at
    from base
    group by
        field_id,
        field_key,
        field_name,
        field_value_options

)

select
    field_id,
    field_key,
    field_name,
    source_rows_count,
    field_value_options,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
