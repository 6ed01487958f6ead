{#- Every raw deal change, cleaned and typed, with the reason it cannot be typed (null when it can). -#}
with

source as (

    select
        deal_id,
        change_time,
        changed_field_key,
        new_value,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('pipedrive', 'deal_changes') }}

),

change_keys as (

    select
        changed_field_key,
        value_type
    from {{ ref('pipedrive_change_keys') }}

),

cleaned as (

    select
        {{ clean_text('source.deal_id') }} as deal_id,
        {{ clean_text('source.change_time') }} as change_time,
        {{ clean_text('source.changed_field_key') }} as changed_field_key,
        {{ clean_text('source.new_value') }} as new_value,
        {{ crm_raw_values(['deal_id', 'change_time', 'changed_field_key', 'new_value'], 'source') }} as raw_values,
        source._source_file,
        source._source_line,
        source._load_id,
        source._loaded_at
    from source

),

-- materialized: `final` tests reject_reason in every typed column, and an inlined CTE would repeat the
-- whole validation (regexes, pg_input_is_valid) once per column and row
checked as materialized (

    select
        cleaned.deal_id,
        cleaned.change_time,
        cleaned.changed_field_key,
        cleaned.new_value,
        change_keys.value_type,
        cleaned.raw_values,
        cleaned._source_file,
        cleaned._source_line,
        cleaned._load_id,
        cleaned._loaded_at,
        case
            when cleaned.deal_id is null then 'deal_id is missing'
            when not {{ crm_is_bigint('cleaned.deal_id') }} then 'deal_id is not an integer'
            when cleaned.change_time is null then 'change_time is missing'
            when not {{ crm_is_timestamp('cleaned.change_time') }} then 'change_time is not a valid timestamp'
            when cleaned.changed_field_key is null then 'changed_field_key is missing'
            when change_keys.value_type is null then 'changed_field_key is unknown'
            when cleaned.new_value is null then 'new_value is missing'
            when change_keys.value_type = 'bigint' and not {{ crm_is_bigint('cleaned.new_value') }}
                then 'new_value is not an integer'
            when change_keys.value_type = 'timestamp' and not {{ crm_is_timestamp('cleaned.new_value') }}
                then 'new_value is not a valid timestamp'
            when change_keys.value_type = 'numeric' and not {{ crm_is_numeric('cleaned.new_value') }}
                then 'new_value is not a number'
        end as reject_reason
    from cleaned
    left join change_keys
        on cleaned.changed_field_key = change_keys.changed_field_key

),

final as (

    select
        case when reject_reason is null then cast(deal_id as bigint) end as deal_id,
        changed_field_key,
        new_value,
        case
            when reject_reason is null and changed_field_key = 'stage_id' then cast(new_value as bigint)
        end as stage_id,
        case
            when reject_reason is null and changed_field_key = 'user_id' then cast(new_value as bigint)
        end as user_id,
        case
            when reject_reason is null and changed_field_key = 'lost_reason' then cast(new_value as bigint)
        end as lost_reason_id,
        case
            when reject_reason is null and changed_field_key = 'value' then cast(new_value as numeric)
        end as deal_value,
        case
            when reject_reason is null and changed_field_key = 'status' then lower(new_value)
        end as deal_status,
        case
            when reject_reason is null and changed_field_key = 'add_time'
                then {{ crm_cast_timestamptz('new_value') }}
        end as added_at,
        case when reject_reason is null then {{ crm_cast_timestamptz('change_time') }} end as changed_at,
        reject_reason,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from checked

)

select * from final
