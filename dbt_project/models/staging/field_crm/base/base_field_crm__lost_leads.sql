{#-
  Every raw lost quote, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__lost_leads keeps the staged rows.
  A table (not a view like the rest of staging): the parsing runs once per build, not once per downstream query.
-#}
{{ config(materialized='table') }}
{%- set columns = [
    'quote_number',
    'lost_reason',
    'lost_at',
    'sales_person',
    'branch'
] -%}
{#- columns holding names to fold into matching keys -> reorder "Last, First" (people) -#}
{%- set spellings = {'sales_person': true, 'branch': false} -%}

with

source as (

    select
        quote_number,
        lost_reason,
        lost_at,
        sales_person,
        branch,
        _extra,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ source('field_crm', 'lost_leads') }}

),

numbered as (

    select
        quote_number,
        lost_reason,
        lost_at,
        sales_person,
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
            quote_number,
            lost_reason,
            lost_at,
            sales_person,
            branch,
            _extra
        order by _load_id, _source_file, _source_line
    )

),

-- each spelling's matching key, folded once per distinct spelling (not per row)
spelling_keys as (

    {{ field_crm_spelling_keys(source('field_crm', 'lost_leads'), spellings) }}

),

keyed as (

    select
        numbered.quote_number,
        numbered.lost_reason,
        numbered.lost_at,
        numbered.sales_person,
        numbered.branch,
        numbered._source_file,
        numbered._source_line,
        numbered._load_id,
        numbered._loaded_at,
        numbered.copy_number,
        numbered.first_copy,
        typed.lost_at_value,
        sales_person_keys.name_key as sales_person_name_key,
        branch_keys.name_key as branch_name_key
    from numbered
    {{ field_crm_evaluate_once('typed', 'lost_at_value', field_crm_parse_timestamp('numbered.lost_at')) }}
    {{ field_crm_spelling_key_joins('numbered', spellings) }}

),

parsed as (

    select
        {{ field_crm_blank_to_null('quote_number') }} as quote_number,
        {{ field_crm_blank_to_null('lost_reason') }} as lost_reason,
        lost_at_value as lost_at,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        {{ field_crm_raw_values(columns) }} as raw_values,
        nullif(
            concat_ws(
                '; ',
                {{ field_crm_reason('quote_number') }},
                {{ field_crm_reason('lost_at', 'lost_at_value', 'date') }}
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
        quote_number,
        lost_reason,
        lost_at,
        sales_person,
        sales_person_name_key,
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
        partition by quote_number, (copy_number = 1 and parse_errors is null)
        order by _load_id desc, _source_file desc, _source_line desc
    )

),

final as (

    select
        quote_number,
        lost_reason,
        lost_at,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ to_business_date('lost_at') }} as lost_date,
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
                    'superseded by a later row of quote_number '
                    || quote_number || ' at ' || latest_version
        end as disposition_reason
    from versioned

)

select
    quote_number,
    lost_reason,
    lost_at,
    lost_date,
    sales_person,
    sales_person_name_key,
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
