{#-
  Every raw bad-lead flag, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__bad_leads keeps the staged rows.
  A table (not a view like the rest of staging): the parsing runs once per build, not once per downstream query.
-#}
{{ config(materialized='table') }}
{%- set columns = [
    'lead_id',
    'quote_number',
    'reason',
    'flagged_at'
] -%}

with

source as (

    select
        lead_id,
        quote_number,
        reason,
        flagged_at,
        _extra,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('field_crm', 'bad_leads') }}

),

numbered as (

    select
        lead_id,
        quote_number,
        reason,
        flagged_at,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        row_number() over copies as copy_number,
        first_value(_source_file || ':' || _source_line) over copies as first_copy
    from source
    window copies as (
        partition by
            lead_id,
            quote_number,
            reason,
            flagged_at,
            _extra
        order by _load_id, _source_file, _source_line
    )

),

parsed as (

    select
        {{ field_crm_blank_to_null('lead_id') }} as lead_id,
        {{ field_crm_blank_to_null('quote_number') }} as quote_number,
        {{ field_crm_blank_to_null('reason') }} as bad_reason,
        {{ field_crm_parse_timestamp('flagged_at') }} as flagged_at,
        {{ field_crm_raw_values(columns) }} as raw_values,
        nullif(
            concat_ws(
                '; ',
                {{ field_crm_reason('lead_id') }},
                {{ field_crm_reason('flagged_at', field_crm_parse_timestamp('flagged_at'), 'date') }}
            ),
            ''
        ) as parse_errors,
        copy_number,
        first_copy,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from numbered

),

versioned as (

    select
        lead_id,
        quote_number,
        bad_reason,
        flagged_at,
        raw_values,
        parse_errors,
        copy_number,
        first_copy,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {#- The latest parseable version of a key wins; earlier differing versions are superseded. -#}
        row_number() over latest as version_number,
        first_value(_source_file || ':' || _source_line) over latest as latest_version
    from parsed
    window latest as (
        partition by lead_id, (copy_number = 1 and parse_errors is null)
        order by _load_id desc, _source_file desc, _source_line desc
    )

),

final as (

    select
        lead_id,
        quote_number,
        bad_reason,
        flagged_at,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ to_business_date('flagged_at') }} as flagged_date,
        case
            when copy_number > 1 then 'duplicate'
            when parse_errors is not null or version_number > 1 then 'rejected'
            else 'staged'
        end as row_disposition,
        case
            when copy_number > 1 then 'exact duplicate of ' || first_copy
            when parse_errors is not null then parse_errors
            when version_number > 1
                then
                    'superseded by a later row of lead_id '
                    || lead_id || ' at ' || latest_version
        end as disposition_reason
    from versioned

)

select
    lead_id,
    quote_number,
    bad_reason,
    flagged_at,
    flagged_date,
    raw_values,
    row_disposition,
    disposition_reason,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
