{#- Every raw deal field definition, cleaned and typed, with the reason it cannot be typed (null when it can). -#}
with

source as (

    select
        id,
        field_key,
        name,
        field_value_options,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('pipedrive', 'fields') }}

),

cleaned as (

    select
        {{ clean_text('id') }} as field_id,
        {{ clean_text('field_key') }} as field_key,
        {{ clean_text('name') }} as field_name,
        {{ clean_text('field_value_options') }} as field_value_options,
        {{ crm_raw_values(['id', 'field_key', 'name', 'field_value_options']) }} as raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from source

),

checked as (

    select
        field_id,
        field_key,
        field_name,
        field_value_options,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case
            when field_id is null then 'id is missing'
            when not {{ crm_is_bigint('field_id') }} then 'id is not an integer'
            when field_key is null then 'field_key is missing'
            when field_value_options is null then null
            when not pg_input_is_valid(field_value_options, 'jsonb') then 'field_value_options is not JSON'
            when jsonb_typeof(cast(field_value_options as jsonb)) <> 'array'
                then 'field_value_options is not a JSON array'
            when exists (
                select 1
                from jsonb_array_elements(cast(cleaned.field_value_options as jsonb)) as opt (option_value)
                where
                    jsonb_typeof(opt.option_value) <> 'object'
                    or not {{ crm_is_bigint("btrim(opt.option_value ->> 'id')") }}
                    or nullif(btrim(opt.option_value ->> 'label'), '') is null
            ) then 'field_value_options has an option without an integer id and a label'
        end as reject_reason
    from cleaned

),

final as (

    select
        field_key,
        field_name,
        reject_reason,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case when reject_reason is null then cast(field_id as bigint) end as field_id,
        case
            when reject_reason is null then cast(field_value_options as jsonb)
        end as field_value_options
    from checked

)

select
    field_id,
    field_key,
    field_name,
    field_value_options,
    reject_reason,
    raw_values,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
