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

    {{ field_service_raw_spellings([
        ('sales_person', 'sales_person', ['leads', 'lost_leads', 'booked_opportunities', 'jobs', 'user_performance']),
        ('branch', 'branch', ['leads', 'lost_leads', 'booked_opportunities', 'jobs', 'user_performance']),
        ('lead_source', 'lead_source', ['leads', 'booked_opportunities']),
        ('region', "raw_values ->> 'region'", ['leads']),
    ]) }}

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

seed_names as (

    {{ field_service_seed_names() }}

),

-- One key per folded name (tests/field_crm/assert_field_crm_seed_keys_unambiguous fails on a clash): a canonical
-- name before an alias, then the least key.
seed_keys as (

    select distinct on (dimension, match_key)
        dimension,
        match_key,
        canonical_key,
        kind
    from seed_names
    where canonical_key is not null
    order by dimension asc, match_key asc, kind = 'alias' asc, canonical_key asc

),

final as (

    select
        variants.dimension,
        variants.raw_value,
        variants.name_key,
        variants.occurrences,
        variants.seen_in,
        variants.first_seen_file,
        seed_keys.canonical_key,
        case seed_keys.kind
            when 'canonical' then 'rule'
            when 'alias' then 'alias'
            else 'none'
        end as match_method
    from variants
    left join seed_keys
        on
            variants.dimension = seed_keys.dimension
            and variants.name_key = seed_keys.match_key

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
