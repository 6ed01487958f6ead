{#- Every raw user, cleaned and typed, with the reason it cannot be typed (null when it can). -#}
with

-- a forgotten subject's personal columns are blanked before anything else reads them (macros/privacy)
screened as (

    select
        id,
        name,
        email,
        modified,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ privacy_is_suppressed([['email', 'email']]) }} as is_suppressed
    from {{ source('pipedrive', 'users') }}

),

source as (

    select
        id,
        modified,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case when not is_suppressed then name end as name,  -- noqa: RF04
        case when not is_suppressed then email end as email
    from screened

),

cleaned as (

    select
        {{ clean_text('id') }} as user_id,
        {{ clean_text('name') }} as user_name,
        lower({{ clean_text('email') }}) as email,
        {{ clean_text('modified') }} as modified,
        {{ crm_raw_values(['id', 'name', 'email', 'modified']) }} as raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from source

),

checked as (

    select
        user_id,
        user_name,
        email,
        modified,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case
            when user_id is null then 'id is missing'
            when not {{ crm_is_bigint('user_id') }} then 'id is not an integer'
            when modified is not null and not {{ crm_is_timestamp('modified') }}
                then 'modified is not a valid timestamp'
        end as reject_reason
    from cleaned

),

final as (

    select
        case when reject_reason is null then cast(user_id as bigint) end as user_id,
        user_name,
        email,
        case when reject_reason is null then {{ crm_cast_timestamptz('modified') }} end as modified_at,
        reject_reason,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from checked

)

select * from final
