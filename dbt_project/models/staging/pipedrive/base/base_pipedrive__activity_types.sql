{#- Every raw activity type, cleaned and typed, with the reason it cannot be typed (null when it can). -#}
with

source as (

    select
        id,
        name,
        active,
        type,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('pipedrive', 'activity_types') }}

),

cleaned as (

    select
        {{ clean_text('id') }} as activity_type_id,
        {{ clean_text('name') }} as activity_type_name,
        {{ clean_text('active') }} as active,
        {{ clean_text('type') }} as activity_type,
        {{ crm_raw_values(['id', 'name', 'active', 'type']) }} as raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from source

),

checked as (

    select
        activity_type_id,
        activity_type_name,
        active,
        activity_type,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case
            when activity_type_id is null then 'id is missing'
            when not {{ crm_is_bigint('activity_type_id') }} then 'id is not an integer'
            when activity_type is null then 'type is missing'
            when activity_type_name is null then 'name is missing'
            when active is not null and not {{ crm_is_boolean('active') }} then 'active is not a boolean'
        end as reject_reason
    from cleaned

),

final as (

    select
        case when reject_reason is null then cast(activity_type_id as bigint) end as activity_type_id,
        activity_type,
        activity_type_name,
        case when reject_reason is null then {{ crm_to_boolean('active') }} end as is_active,
        reject_reason,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from checked

)

select * from final
