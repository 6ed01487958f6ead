{#-
  Every raw lead, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__leads keeps the staged rows.
  A table (not a view like the rest of staging): the parsing runs once per build, not once per downstream query.
-#}
{{ config(materialized='table') }}
{%- set columns = [
    'lead_id',
    'quote_number',
    'created_at',
    'status',
    'lead_source',
    'branch',
    'sales_person',
    'customer_name',
    'customer_email',
    'customer_phone',
    'origin_city',
    'destination_city',
    'region',
    'gdpr_consent'
] -%}
{#- columns holding names to fold into matching keys -> reorder "Last, First" (people) -#}
{%- set spellings = {'lead_source': false, 'branch': false, 'sales_person': true, 'region': false} -%}

with

-- a forgotten subject's personal columns are blanked before anything else reads them (macros/privacy)
screened as (

    select
        lead_id,
        quote_number,
        created_at,
        status,
        lead_source,
        branch,
        sales_person,
        customer_name,
        customer_email,
        customer_phone,
        origin_city,
        destination_city,
        region,
        gdpr_consent,
        _extra,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ privacy_is_suppressed([['email', 'customer_email'], ['phone', 'customer_phone']]) }} as is_suppressed
    from {{ source('field_crm', 'leads') }}

),

source as (

    select
        lead_id,
        quote_number,
        created_at,
        status,
        lead_source,
        branch,
        sales_person,
        origin_city,
        destination_city,
        region,
        gdpr_consent,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        case when not is_suppressed then customer_name end as customer_name,
        case when not is_suppressed then customer_email end as customer_email,
        case when not is_suppressed then customer_phone end as customer_phone,
        case when not is_suppressed then _extra end as _extra
    from screened

),

numbered as (

    select
        lead_id,
        quote_number,
        created_at,
        status,
        lead_source,
        branch,
        sales_person,
        customer_name,
        customer_email,
        customer_phone,
        origin_city,
        destination_city,
        region,
        gdpr_consent,
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
            created_at,
            status,
            lead_source,
            branch,
            sales_person,
            customer_name,
            customer_email,
            customer_phone,
            origin_city,
            destination_city,
            region,
            gdpr_consent,
            _extra
        order by _load_id, _source_file, _source_line
    )

),

-- each spelling's matching key, folded once per distinct spelling (not per row)
spelling_keys as (

    {{ field_crm_spelling_keys(source('field_crm', 'leads'), spellings) }}

),

keyed as (

    select
        numbered.lead_id,
        numbered.quote_number,
        numbered.created_at,
        numbered.status,
        numbered.lead_source,
        numbered.branch,
        numbered.sales_person,
        numbered.customer_name,
        numbered.customer_email,
        numbered.customer_phone,
        numbered.origin_city,
        numbered.destination_city,
        numbered.region,
        numbered.gdpr_consent,
        numbered._source_file,
        numbered._source_line,
        numbered._load_id,
        numbered._loaded_at,
        numbered.copy_number,
        numbered.first_copy,
        typed.created_at_value,
        lead_source_keys.name_key as lead_source_name_key,
        branch_keys.name_key as branch_name_key,
        sales_person_keys.name_key as sales_person_name_key,
        region_keys.name_key as region_name_key
    from numbered
    {{ field_crm_evaluate_once('typed', 'created_at_value', field_crm_parse_timestamp('numbered.created_at')) }}
    {{ field_crm_spelling_key_joins('numbered', spellings) }}

),

parsed as (

    select
        {{ field_crm_blank_to_null('lead_id') }} as lead_id,
        {{ field_crm_blank_to_null('quote_number') }} as quote_number,
        created_at_value as created_at,
        {{ field_crm_fold_status('status') }} as status_folded,
        lead_source,
        lead_source_name_key,
        branch,
        branch_name_key,
        sales_person,
        sales_person_name_key,
        regexp_replace(btrim(customer_name), '[[:space:]]+', ' ', 'g') as customer_name,
        {{ field_crm_normalise_email('customer_email') }} as customer_email,
        {{ field_crm_clean_phone('customer_phone') }} as customer_phone,
        {{ field_crm_blank_to_null('origin_city') }} as origin_city,
        {{ field_crm_blank_to_null('destination_city') }} as destination_city,
        {{ field_crm_blank_to_null('region') }} as region_code,
        region_name_key,
        {{ field_crm_parse_consent('gdpr_consent') }} as gdpr_consent,
        {{ field_crm_raw_values(columns) }} as raw_values,
        nullif(
            concat_ws(
                '; ',
                {{ field_crm_reason('lead_id') }},
                {{ field_crm_reason('created_at', 'created_at_value', 'date') }},
                {{ field_crm_reason('gdpr_consent', field_crm_parse_consent('gdpr_consent'), 'consent flag', false) }}
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
        lead_id,
        quote_number,
        created_at,
        status_folded,
        lead_source,
        lead_source_name_key,
        branch,
        branch_name_key,
        sales_person,
        sales_person_name_key,
        customer_name,
        customer_email,
        customer_phone,
        origin_city,
        destination_city,
        region_code,
        region_name_key,
        gdpr_consent,
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
        created_at,
        status_folded,
        lead_source,
        lead_source_name_key,
        branch,
        branch_name_key,
        sales_person,
        sales_person_name_key,
        customer_name,
        customer_email,
        customer_phone,
        origin_city,
        destination_city,
        region_code,
        region_name_key,
        gdpr_consent,
        raw_values,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at,
        {{ to_business_date('created_at') }} as created_date,
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
    created_at,
    created_date,
    status_folded,
    lead_source,
    lead_source_name_key,
    branch,
    branch_name_key,
    sales_person,
    sales_person_name_key,
    customer_name,
    customer_email,
    customer_phone,
    origin_city,
    destination_city,
    region_code,
    region_name_key,
    gdpr_consent,
    raw_values,
    row_disposition,
    disposition_reason,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
