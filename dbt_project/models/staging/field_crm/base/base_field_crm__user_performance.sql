{#-
  Every raw daily call-metrics row, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__user_performance keeps the staged rows.
  A table (not a view like the rest of staging): the parsing runs once per build, not once per downstream query.
-#}
{{ config(materialized='table') }}
{%- set columns = [
    'sales_person',
    'date',
    'calls_made',
    'calls_answered',
    'talk_minutes',
    'branch'
] -%}
{#- columns holding names to fold into matching keys -> reorder "Last, First" (people) -#}
{%- set spellings = {'sales_person': true, 'branch': false} -%}

with

source as (

    select
        sales_person,
        date,
        calls_made,
        calls_answered,
        talk_minutes,
        branch,
        _extra,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('field_crm', 'user_performance') }}

),

numbered as (

    select
        sales_person,
        date,
        calls_made,
        calls_answered,
        talk_minutes,
        branch,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        row_number() over copies as copy_number,
        first_value(_source_file || ':' || _source_line) over copies as first_copy
    from source
    window copies as (
        partition by
            sales_person,
            date,
            calls_made,
            calls_answered,
            talk_minutes,
            branch,
            _extra
        order by _load_id, _source_file, _source_line
    )

),

-- each spelling's matching key, folded once per distinct spelling (not per row)
spelling_keys as (

    {{ field_crm_spelling_keys(source('field_crm', 'user_performance'), spellings) }}

),

keyed as (

    select
        numbered.sales_person,
        numbered.date,
        numbered.calls_made,
        numbered.calls_answered,
        numbered.talk_minutes,
        numbered.branch,
        numbered._source_file,
        numbered._source_line,
        numbered._load_id,
        numbered._loaded_at,
        numbered.copy_number,
        numbered.first_copy,
        typed.date_value,
        sales_person_keys.name_key as sales_person_name_key,
        branch_keys.name_key as branch_name_key
    from numbered
    {{ field_crm_evaluate_once('typed', 'date_value', field_crm_parse_date('numbered.date')) }}
    {{ field_crm_spelling_key_joins('numbered', spellings) }}

),

parsed as (

    select
        sales_person,
        sales_person_name_key,
        date_value as performance_date,
        {{ field_crm_parse_int('calls_made') }} as calls_made,
        {{ field_crm_parse_int('calls_answered') }} as calls_answered,
        {{ field_crm_parse_int('talk_minutes') }} as talk_minutes,
        branch,
        branch_name_key,
        {{ field_crm_raw_values(columns) }} as raw_values,
        nullif(
            concat_ws(
                '; ',
                {{ field_crm_reason('sales_person') }},
                {{ field_crm_reason('date', 'date_value', 'date') }},
                {{ field_crm_reason('calls_made', field_crm_parse_int('calls_made'), 'whole number', false) }},
                {{ field_crm_reason('calls_answered', field_crm_parse_int('calls_answered'), 'whole number', false) }},
                {{ field_crm_reason('talk_minutes', field_crm_parse_int('talk_minutes'), 'whole number', false) }}
            ),
            ''
        ) as parse_errors,
        copy_number,
        first_copy,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from keyed

),

versioned as (

    select
        sales_person,
        sales_person_name_key,
        performance_date,
        calls_made,
        calls_answered,
        talk_minutes,
        branch,
        branch_name_key,
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
        partition by sales_person_name_key, performance_date, (copy_number = 1 and parse_errors is null)
        order by _load_id desc, _source_file desc, _source_line desc
    )

),

final as (

    select
        sales_person,
        sales_person_name_key,
        performance_date,
        calls_made,
        calls_answered,
        talk_minutes,
        branch,
        branch_name_key,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
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
                    'superseded by a later row of sales person and date '
                    || sales_person_name_key || ' / ' || performance_date || ' at ' || latest_version
        end as disposition_reason
    from versioned

)

select
    sales_person,
    sales_person_name_key,
    performance_date,
    calls_made,
    calls_answered,
    talk_minutes,
    branch,
    branch_name_key,
    raw_values,
    row_disposition,
    disposition_reason,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
