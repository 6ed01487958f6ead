{#-
  One row per lead source (seed field_crm_lead_sources) plus the members 'unknown' and 'unresolved', with every
  spelling seen in the export that resolves to it.
-#}
with

lead_sources as (

    select
        lead_source_key,
        lead_source_name,
        channel
    from {{ ref('field_crm_lead_sources') }}

),

variants as (

    select
        raw_value,
        canonical_key
    from {{ ref('int_field_service__name_variants') }}
    where dimension = 'lead_source'

),

members as (

    select
        lead_source_key,
        lead_source_name,
        channel,
        false as is_placeholder
    from lead_sources
    union all
    select
        'unknown' as lead_source_key,
        'Unknown (not given)' as lead_source_name,
        null as channel,
        true as is_placeholder
    union all
    select
        'unresolved' as lead_source_key,
        'Unresolved (no canonical match)' as lead_source_name,
        null as channel,
        true as is_placeholder

),

spellings as (

    select
        coalesce(canonical_key, 'unresolved') as lead_source_key,
        array_agg(raw_value order by raw_value) as raw_variants
    from variants
    group by coalesce(canonical_key, 'unresolved')

),

final as (

    select
        members.lead_source_key,
        members.lead_source_name,
        members.channel,
        members.is_placeholder,
        coalesce(spellings.raw_variants, '{}'::text[]) as raw_variants,
        coalesce(cardinality(spellings.raw_variants), 0) as variants_count
    from members
    left join spellings
        on members.lead_source_key = spellings.lead_source_key

)

select
    lead_source_key,
    lead_source_name,
    channel,
    raw_variants,
    variants_count,
    is_placeholder
from final
