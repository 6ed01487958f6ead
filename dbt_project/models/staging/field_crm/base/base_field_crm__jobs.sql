{#-
  Every raw job, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__jobs keeps the staged rows. An unreadable revenue ('n/a') does not
  reject the row: it is staged with a null revenue and the raw text kept in unreadable_revenue (listed in
  field_service_exceptions).
  A table (not a view like the rest of staging): the parsing runs once per build, not once per downstream query.
-#}
{{ config(materialized='table') }}
{%- set columns = [
    'job_id',
    'quote_number',
    'job_date',
    'status',
    'revenue',
    'sales_person',
    'branch',
    'customer_email',
    'origin_city',
    'destination_city'
] -%}
{#- columns holding names to fold into matching keys -> reorder "Last, First" (people) -#}
{%- set spellings = {'sales_person': true, 'branch': false} -%}

with

-- a forgotten subject's personal columns are blanked before anything else reads them (macros/privacy)
screened as (

    select
        job_id,
        quote_number,
        job_date,
        status,
        revenue,
        sales_person,
        branch,
        customer_email,
        origin_city,
        destination_city,
        _extra,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ privacy_is_suppressed([['email', 'customer_email']]) }} as is_suppressed
    from {{ source('field_crm', 'jobs') }}

),

source as (

    select
        job_id,
        quote_number,
        job_date,
        status,
        revenue,
        sales_person,
        branch,
        origin_city,
        destination_city,
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
        job_id,
        quote_number,
        job_date,
        status,
        revenue,
        sales_person,
        branch,
        customer_email,
        origin_city,
        destination_city,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        row_number() over copies as copy_number,
        first_value(_source_file || ':' || _source_line) over copies as first_copy
    from source
    window copies as (
        partition by
            job_id,
            quote_number,
            job_date,
            status,
            revenue,
            sales_person,
            branch,
            customer_email,
            origin_city,
            destination_city,
            _extra
        order by _load_id, _source_file, _source_line
    )

),

-- each spelling's matching key, folded once per distinct spelling (not per row)
spelling_keys as (

    {{ field_crm_spelling_keys(source('field_crm', 'jobs'), spellings) }}

),

keyed as (

    select
        numbered.job_id,
        numbered.quote_number,
        numbered.job_date,
        numbered.status,
        numbered.revenue,
        numbered.sales_person,
        numbered.branch,
        numbered.customer_email,
        numbered.origin_city,
        numbered.destination_city,
        numbered._source_file,
        numbered._source_line,
        numbered._load_id,
        numbered._loaded_at,
        numbered.copy_number,
        numbered.first_copy,
        typed.job_date_value,
        sales_person_keys.name_key as sales_person_name_key,
        branch_keys.name_key as branch_name_key
    from numbered
    {{ field_crm_evaluate_once('typed', 'job_date_value', field_crm_parse_date('numbered.job_date')) }}
    {{ field_crm_spelling_key_joins('numbered', spellings) }}

),

parsed as (

    select
        {{ field_crm_blank_to_null('job_id') }} as job_id,
        {{ field_crm_blank_to_null('quote_number') }} as quote_number,
        job_date_value as job_date,
        {{ field_crm_fold_status('status') }} as status_folded,
        {{ field_crm_parse_money('revenue') }} as revenue,
        {{ field_crm_unreadable_value('revenue', field_crm_parse_money('revenue')) }} as unreadable_revenue,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        {{ field_crm_normalise_email('customer_email') }} as customer_email,
        {{ field_crm_blank_to_null('origin_city') }} as origin_city,
        {{ field_crm_blank_to_null('destination_city') }} as destination_city,
        {{ field_crm_raw_values(columns) }} as raw_values,
        nullif(
            concat_ws(
                '; ',
                {{ field_crm_reason('job_id') }},
                {{ field_crm_reason('quote_number') }},
                {{ field_crm_reason('job_date', 'job_date_value', 'date') }},
                {{ field_crm_reason('status') }}
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
        job_id,
        quote_number,
        job_date,
        status_folded,
        revenue,
        unreadable_revenue,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        customer_email,
        origin_city,
        destination_city,
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
        partition by job_id, (copy_number = 1 and parse_errors is null)
        order by _load_id desc, _source_file desc, _source_line desc
    )

),

final as (

    select
        job_id,
        quote_number,
        job_date,
        status_folded,
        revenue,
        unreadable_revenue,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        customer_email,
        origin_city,
        destination_city,
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
                    'superseded by a later row of job_id '
                    || job_id || ' at ' || latest_version
        end as disposition_reason
    from versioned

)

select
    job_id,
    quote_number,
    job_date,
    status_folded,
    revenue,
    unreadable_revenue,
    sales_person,
    sales_person_name_key,
    branch,
    branch_name_key,
    customer_email,
    origin_city,
    destination_city,
    raw_values,
    row_disposition,
    disposition_reason,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
