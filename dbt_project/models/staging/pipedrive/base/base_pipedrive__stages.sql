{#- Every raw stage, cleaned and typed, with the reason it cannot be typed (null when it can). -#}
with

source as (

    select
        stage_id,
        stage_name,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('pipedrive', 'stages') }}

),

cleaned as (

    select
        {{ clean_text('stage_id') }} as stage_id,
        {{ clean_text('stage_name') }} as stage_name,
        {{ crm_raw_values(['stage_id', 'stage_name']) }} as raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from source

),

checked as (

    select
        stage_id,
        stage_name,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case
            when stage_id is null then 'stage_id is missing'
            when not {{ crm_is_bigint('stage_id') }} then 'stage_id is not an integer'
            when stage_name is null then 'stage_name is missing'
        end as reject_reason
    from cleaned

),

final as (

    select
        stage_name,
        reject_reason,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case when reject_reason is null then cast(stage_id as bigint) end as stage_id
    from checked

)

select
    stage_id,
    stage_name,
    reject_reason,
    raw_values,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
