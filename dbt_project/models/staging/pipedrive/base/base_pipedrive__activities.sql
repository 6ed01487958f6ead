{#- Every raw activity, cleaned and typed, with the reason it cannot be typed (null when it can). -#}
with

source as (

    select
        activity_id,
        type,
        assigned_to_user,
        deal_id,
        done,
        due_to,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('pipedrive', 'activity') }}

),

cleaned as (

    select
        {{ clean_text('activity_id') }} as activity_id,
        {{ clean_text('type') }} as activity_type,
        {{ clean_text('assigned_to_user') }} as assigned_to_user,
        {{ clean_text('deal_id') }} as deal_id,
        {{ clean_text('done') }} as done,
        {{ clean_text('due_to') }} as due_to,
        {{ crm_raw_values(['activity_id', 'type', 'assigned_to_user', 'deal_id', 'done', 'due_to']) }} as raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from source

),

-- materialized: `final` tests reject_reason in every typed column, and an inlined CTE would repeat the
-- whole validation (regexes, pg_input_is_valid) once per column and row
checked as materialized (

    select
        activity_id,
        activity_type,
        assigned_to_user,
        deal_id,
        done,
        due_to,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case
            when activity_id is null then 'activity_id is missing'
            when not {{ crm_is_bigint('activity_id') }} then 'activity_id is not an integer'
            when deal_id is null then 'deal_id is missing'
            when not {{ crm_is_bigint('deal_id') }} then 'deal_id is not an integer'
            when activity_type is null then 'type is missing'
            when assigned_to_user is not null and not {{ crm_is_bigint('assigned_to_user') }}
                then 'assigned_to_user is not an integer'
            when done is null then 'done is missing'
            when not {{ crm_is_boolean('done') }} then 'done is not a boolean'
            when due_to is null then 'due_to is missing'
            when not {{ crm_is_timestamp('due_to') }} then 'due_to is not a valid timestamp'
        end as reject_reason
    from cleaned

),

final as (

    select
        case when reject_reason is null then cast(activity_id as bigint) end as activity_id,
        case when reject_reason is null then cast(deal_id as bigint) end as deal_id,
        case when reject_reason is null then cast(assigned_to_user as bigint) end as owner_user_id,
        activity_type,
        case when reject_reason is null then {{ crm_to_boolean('done') }} end as is_done,
        case when reject_reason is null then {{ crm_cast_timestamptz('due_to') }} end as due_at,
        reject_reason,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from checked

)

select * from final
