{#-
  Every raw spelling of a sales person, branch, lead source and region seen in any field_crm file (staged,
  duplicate or rejected rows alike) and the canonical key it resolves to:
    rule   its folded key equals the folded canonical name (seeds field_crm_sales_people, ...);
    alias  its folded key equals the folded key of an alias (seeds sales_person_aliases, ...);
    none   nothing matched: canonical_key is null and the spelling is listed in field_service_exceptions.
  Blank spellings are not variants (facts use the member 'unknown' for them).
-#}
{#- A table: read by most field-service models; as a view each re-scanned all six base tables. -#}
{{ config(materialized='table') }}

with

spellings as (

    select
        'sales_person' as dimension,
        sales_person as raw_value,
        sales_person_name_key as name_key,
        'leads' as source_table,
        _source_file
    from {{ ref('base_field_crm__leads') }}
    union all
    select
        'sales_person' as dimension,
        sales_person as raw_value,
        sales_person_name_key as name_key,
        'lost_leads' as source_table,
        _source_file
    from {{ ref('base_field_crm__lost_leads') }}
    union all
    select
        'sales_person' as dimension,
        sales_person as raw_value,
        sales_person_name_key as name_key,
        'booked_opportunities' as source_table,
        _source_file
    from {{ ref('base_field_crm__booked_opportunities') }}
    union all
    select
        'sales_person' as dimension,
        sales_person as raw_value,
        sales_person_name_key as name_key,
        'jobs' as source_table,
        _source_file
    from {{ ref('base_field_crm__jobs') }}
    union all
    select
        'sales_person' as dimension,
        sales_person as raw_value,
        sales_person_name_key as name_key,
        'user_performance' as source_table,
        _source_file
    from {{ ref('base_field_crm__user_performance') }}
    union all
    select
        'branch' as dimension,
        branch as raw_value,
        branch_name_key as name_key,
        'leads' as source_table,
        _source_file
    from {{ ref('base_field_crm__leads') }}
    union all
    select
        'branch' as dimension,
        branch as raw_value,
        branch_name_key as name_key,
        'lost_leads' as source_table,
        _source_file
    from {{ ref('base_field_crm__lost_leads') }}
    union all
    select
        'branch' as dimension,
        branch as raw_value,
        branch_name_key as name_key,
        'booked_opportunities' as source_table,
        _source_file
    from {{ ref('base_field_crm__booked_opportunities') }}
    union all
    select
        'branch' as dimension,
        branch as raw_value,
        branch_name_key as name_key,
        'jobs' as source_table,
        _source_file
    from {{ ref('base_field_crm__jobs') }}
    union all
    select
        'branch' as dimension,
        branch as raw_value,
        branch_name_key as name_key,
        'user_performance' as source_table,
        _source_file
    from {{ ref('base_field_crm__user_performance') }}
    union all
    select
        'lead_source' as dimension,
        lead_source as raw_value,
        lead_source_name_key as name_key,
        'leads' as source_table,
        _source_file
    from {{ ref('base_field_crm__leads') }}
    union all
    select
        'lead_source' as dimension,
        lead_source as raw_value,
        lead_source_name_key as name_key,
        'booked_opportunities' as source_table,
        _source_file
    from {{ ref('base_field_crm__booked_opportunities') }}
    union all
    select
        'region' as dimension,
        raw_values ->> 'region' as raw_value,
        region_name_key as name_key,
        'leads' as source_table,
        _source_file
    from {{ ref('base_field_crm__leads') }}

),

variants as (

    select
        dimension,
        raw_value,
        name_key,
        count(*) as occurrences,
        string_agg(distinct source_table, ', ' order by source_table) as seen_in,
        min(_source_file) as first_seen_file
    from spellings
    where btrim(raw_value) <> ''
    group by dimension, raw_value, name_key

),

canonical_names as (

    select
        'sales_person' as dimension,
        sales_person_key as canonical_key,
        {{ field_crm_name_key('sales_person_name') }} as match_key
    from {{ ref('field_crm_sales_people') }}
    union all
    select
        'branch' as dimension,
        branch_key as canonical_key,
        {{ field_crm_name_key('branch_name', reorder_comma=false) }} as match_key
    from {{ ref('field_crm_branches') }}
    union all
    select
        'lead_source' as dimension,
        lead_source_key as canonical_key,
        {{ field_crm_name_key('lead_source_name', reorder_comma=false) }} as match_key
    from {{ ref('field_crm_lead_sources') }}
    union all
    select
        'region' as dimension,
        region_code as canonical_key,
        {{ field_crm_name_key('region_code', reorder_comma=false) }} as match_key
    from {{ ref('field_crm_regions') }}

),

alias_names as (

    select
        'sales_person' as dimension,
        sales_person_key as canonical_key,
        {{ field_crm_name_key('alias') }} as match_key
    from {{ ref('sales_person_aliases') }}
    union all
    select
        'branch' as dimension,
        branch_key as canonical_key,
        {{ field_crm_name_key('alias', reorder_comma=false) }} as match_key
    from {{ ref('branch_aliases') }}
    union all
    select
        'lead_source' as dimension,
        lead_source_key as canonical_key,
        {{ field_crm_name_key('alias', reorder_comma=false) }} as match_key
    from {{ ref('lead_source_aliases') }}

),

-- One key per folded name (tests/field_crm/assert_field_crm_seed_keys_unambiguous fails on a clash).
canonical_keys as (

    select distinct on (dimension, match_key)
        dimension,
        match_key,
        canonical_key
    from canonical_names
    order by dimension asc, match_key asc, canonical_key asc

),

alias_keys as (

    select distinct on (dimension, match_key)
        dimension,
        match_key,
        canonical_key
    from alias_names
    order by dimension asc, match_key asc, canonical_key asc

),

final as (

    select
        variants.dimension,
        variants.raw_value,
        variants.name_key,
        variants.occurrences,
        variants.seen_in,
        variants.first_seen_file,
        coalesce(canonical_keys.canonical_key, alias_keys.canonical_key) as canonical_key,
        case
            when canonical_keys.canonical_key is not null then 'rule'
            when alias_keys.canonical_key is not null then 'alias'
            else 'none'
        end as match_method
    from variants
    left join canonical_keys
        on
            variants.dimension = canonical_keys.dimension
            and variants.name_key = canonical_keys.match_key
    left join alias_keys
        on
            variants.dimension = alias_keys.dimension
            and variants.name_key = alias_keys.match_key

)

select
    dimension,
    raw_value,
    name_key,
    canonical_key,
    match_method,
    occurrences,
    seen_in,
    first_seen_file
from final
