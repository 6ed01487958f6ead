{#-
  Every raw booked opportunity, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__booked_opportunities keeps the staged rows. An unreadable estimated
  amount ('TBD', '#VALUE!') does not reject the row: it is staged with a null amount and the raw text kept in
  unreadable_estimated_amount (listed in field_service_exceptions).
  A table (not a view like the rest of staging): the parsing runs once per build, not once per downstream query.
-#}
{{ config(materialized='table') }}
{%- set columns = [
    'opportunity_id',
    'quote_number',
    'booked_at',
    'estimated_amount',
    'sales_person',
    'branch',
    'lead_source',
    'customer_email'
] -%}
{#- columns holding names to fold into matching keys -> reorder "Last, First" (people) -#}
{%- set spellings = {'sales_person': true, 'branch': false, 'lead_source': false} -%}

with

-- a forgotten subject's personal columns are blanked before anything else reads them (macros/privacy)
screened as (

    select
        opportunity_id,
        quote_number,
        booked_at,
        estimated_amount,
        sales_person,
        branch,
        lead_source,
        customer_email,
        _extra,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ privacy_is_suppressed([['email', 'customer_email']]) }} as is_suppressed
    from {{ source('field_crm', 'booked_opportunities') }}

),

source as (

    select
        opportunity_id,
        quote_number,
        booked_at,
        estimated_amount,
        sales_person,
        branch,
        lead_source,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case when not is_suppressed then customer_email end as customer_email,
        case when not is_suppressed then _extra end as _extra
    from screened

),

numbered as (

    select
        opportunity_id,
        quote_number,
        booked_at,
        estimated_amount,
        sales_person,
        branch,
        lead_source,
        customer_email,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        row_number() over copies as copy_number,
        first_value(_source_file || ':' || _source_line) over copies as first_copy
    from source
    window copies as (
        partition by
            opportunity_id,
            quote_number,
            booked_at,
            estimated_amount,
            sales_person,
            branch,
            lead_source,
            customer_email,
            _extra
        order by _load_id, _source_file, _source_line
    )

),

-- each spelling's matching key, folded once per distinct spelling (not per row)
spelling_keys as (

    {{ field_crm_spelling_keys(source('field_crm', 'booked_opportunities'), spellings) }}

),

keyed as (

    select
        numbered.opportunity_id,
        numbered.quote_number,
        numbered.booked_at,
        numbered.estimated_amount,
        numbered.sales_person,
        numbered.branch,
        numbered.lead_source,
        numbered.customer_email,
        numbered._source_file,
        numbered._source_line,
        numbered._load_id,
        numbered._loaded_at,
        numbered.copy_number,
        numbered.first_copy,
        typed.booked_at_value,
        sales_person_keys.name_key as sales_person_name_key,
        branch_keys.name_key as branch_name_key,
        lead_source_keys.name_key as lead_source_name_key
    from numbered
    {{ field_crm_evaluate_once('typed', 'booked_at_value', field_crm_parse_timestamp('numbered.booked_at')) }}
    {{ field_crm_spelling_key_joins('numbered', spellings) }}

),

parsed as (

    select
        {{ field_crm_blank_to_null('opportunity_id') }} as opportunity_id,
        {{ field_crm_blank_to_null('quote_number') }} as quote_number,
        booked_at_value as booked_at,
        {{ field_crm_parse_money('estimated_amount') }} as estimated_amount,
        {{ field_crm_unreadable_value('estimated_amount', field_crm_parse_money('estimated_amount')) }}
            as unreadable_estimated_amount,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        lead_source,
        lead_source_name_key,
        {{ field_crm_normalise_email('customer_email') }} as customer_email,
        {{ field_crm_raw_values(columns) }} as raw_values,
        nullif(
            concat_ws(
                '; ',
                {{ field_crm_reason('opportunity_id') }},
                {{ field_crm_reason('quote_number') }},
                {{ field_crm_reason('booked_at', 'booked_at_value', 'date') }}
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
        opportunity_id,
        quote_number,
        booked_at,
        estimated_amount,
        unreadable_estimated_amount,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        lead_source,
        lead_source_name_key,
        customer_email,
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
        partition by opportunity_id, (copy_number = 1 and parse_errors is null)
        order by _load_id desc, _source_file desc, _source_line desc
    )

),

final as (

    select
        opportunity_id,
        quote_number,
        booked_at,
        estimated_amount,
        unreadable_estimated_amount,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        lead_source,
        lead_source_name_key,
        customer_email,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ to_business_date('booked_at') }} as booked_date,
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
                    'superseded by a later row of opportunity_id '
                    || opportunity_id || ' at ' || latest_version
        end as disposition_reason
    from versioned

)

select
    opportunity_id,
    quote_number,
    booked_at,
    booked_date,
    estimated_amount,
    unreadable_estimated_amount,
    sales_person,
    sales_person_name_key,
    branch,
    branch_name_key,
    lead_source,
    lead_source_name_key,
    customer_email,
    raw_values,
    row_disposition,
    disposition_reason,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
