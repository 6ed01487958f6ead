{#- Activity types, typed; exact duplicates collapse. `activity_type` is the key activities use. -#}
with

base as (

    select
        activity_type_id,
        activity_type,
        activity_type_name,
        is_active,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__activity_types') }}
    where reject_reason is null

),

final as (

    select
        activity_type_id,
        activity_type,
        activity_type_name,
        is_active,
        count(*) as source_rows_count,
        (array_agg(_source_file order by _load_id, _source_line))[1] as _source_file,
        (array_agg(_source_line order by _load_id, _source_line))[1] as _source_line,
        min(_load_id) as _load_id,
        min(_loaded_at) as _loaded_at
    from base
    group by
        activity_type_id,
        activity_type,
        activity_type_name,
        is_active

)

select
    activity_type_id,
    activity_type,
    activity_type_name,
    source_rows_count,
    is_active,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
