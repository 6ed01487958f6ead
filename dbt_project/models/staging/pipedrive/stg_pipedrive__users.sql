{#- Users, typed; exact duplicates collapse. Names and emails are personal data: they never reach a mart. -#}
with

base as (

    select
        user_id,
        user_name,
        email,
        modified_at,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__users') }}
    where reject_reason is null

),

final as (

    select
        user_id,
        user_name,
        email,
        modified_at,
        count(*) as source_rows_count,
        (array_agg(_source_file order by _load_id, _source_line))[1] as _source_file,
        (array_agg(_source_line order by _load_id, _source_line))[1] as _source_line,
        min(_load_id) as _load_id,
        min(_loaded_at) as _loaded_at
    from base
    group by
        user_id,
        user_name,
        email,
        modified_at

)

select
    user_id,
    user_name,
    email,
    source_rows_count,
    modified_at,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
