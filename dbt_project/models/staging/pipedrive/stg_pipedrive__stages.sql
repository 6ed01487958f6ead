{#- Pipeline stages, typed; exact duplicates collapse. -#}
with

base as (

    select
        stage_id,
        stage_name,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__stages') }}
    where reject_reason is null

),

final as (

    select
        stage_id,
        stage_name,
        count(*) as source_rows_count,
        (array_agg(_source_file order by _load_id, _source_line))[1] as _source_file,
        (array_agg(_source_line order by _load_id, _source_line))[1] as _source_line,
        min(_load_id) as _load_id,
        min(_loaded_at) as _loaded_at
    from base
    group by
        stage_id,
        stage_name

)

select * from final
