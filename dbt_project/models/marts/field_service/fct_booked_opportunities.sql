{#-
  One row per booked opportunity. Sales person, branch and lead source: the booking's own spelling when it
  resolves, else its lead's. Region and consent: its lead's; for an orphan (no lead) its branch's region.
  An estimated amount that could not be read ('TBD', '#VALUE!') is null and flagged (is_amount_unreadable): the
  booking still counts, with no value (field_service_exceptions names the value).
  Keyed by quote (macros/incremental_keys.sql): a run rebuilds the quotes a load of any field_crm file touched
  and those whose customers int_field_service__customer_contacts rewrote.
-#}
{{ keyed_incremental(
    key='quote_number',
    source='field_crm',
    changes=field_service_lifecycle_feeds(),
    parents=[{'model': 'int_field_service__customer_contacts', 'column': 'lifecycle_id'}],
    log=['customer_id'],
) }}

with

bookings as (

    {{ selected_columns(ref('int_field_service__bookings_selected'), [
        'opportunity_id', 'quote_number', 'sales_person', 'branch', 'lead_source', 'estimated_amount',
        'unreadable_estimated_amount', 'booked_at', 'booked_date',
    ], where=keyed_filter('quote_number')) }}

),

variants as (

    {{ selected_columns(ref('int_field_service__name_variants'), ['dimension', 'raw_value', 'canonical_key']) }}

),

quotes as (

    {{ selected_columns(ref('int_field_service__quotes_linked'), [
        'quote_number', 'lead_id', 'job_id', 'has_lead', 'has_job', 'is_flagged_bad', 'is_lost',
    ], where=keyed_filter('quote_number')) }}

),

leads as (

    {{ selected_columns(ref('int_field_service__leads_enriched'), [
        'lead_id', 'sales_person_key', 'branch_key', 'lead_source_key', 'region', 'gdpr_consent',
        'created_date',
    ], where='lead_id in (select quotes.lead_id from quotes)') }}

),

customer_keys as (

    {{ selected_columns(ref('int_field_service__customer_keys'), [
        'record_id', 'customer_id',
    ], where="record_type = 'booking' and record_id in (select bookings.opportunity_id from bookings)") }}

),

branch_regions as (

    {{ selected_columns(ref('int_field_service__branch_regions'), ['branch_key', 'region']) }}

),

resolved as (

    select
        bookings.opportunity_id,
        bookings.quote_number,
        {{ field_crm_resolved_key('bookings.sales_person', 'sales_person_variants') }} as sales_person_key,
        {{ field_crm_resolved_key('bookings.branch', 'branch_variants') }} as branch_key,
        {{ field_crm_resolved_key('bookings.lead_source', 'lead_source_variants') }} as lead_source_key,
        bookings.estimated_amount,
        bookings.unreadable_estimated_amount is not null as is_amount_unreadable,
        bookings.booked_at,
        bookings.booked_date
    from bookings
    {{ field_service_variant_joins('bookings', ['sales_person', 'branch', 'lead_source']) }}

),

joined as (

    select
        resolved.opportunity_id,
        resolved.quote_number,
        quotes.lead_id,
        quotes.job_id,
        customer_keys.customer_id,
        {{ field_crm_prefer_key(['resolved.sales_person_key', 'leads.sales_person_key']) }} as sales_person_key,
        {{ field_crm_prefer_key(['resolved.branch_key', 'leads.branch_key']) }} as branch_key,
        {{ field_crm_prefer_key(['resolved.lead_source_key', 'leads.lead_source_key']) }} as lead_source_key,
        coalesce(leads.region, branch_regions.region) as region,
        coalesce(leads.gdpr_consent, '{{ var("compliance_default_consent", "unknown") }}') as gdpr_consent,
        resolved.estimated_amount,
        resolved.is_amount_unreadable,
        coalesce(quotes.has_job, false) as has_job,
        not coalesce(quotes.has_lead, false) as is_orphan,
        coalesce(quotes.is_flagged_bad, false) as is_lead_flagged_bad,
        coalesce(quotes.is_lost, false) as is_also_lost,
        resolved.booked_at,
        resolved.booked_date,
        leads.created_date as lead_created_date,
        resolved.booked_date - leads.created_date as days_from_lead_to_booking
    from resolved
    left join quotes
        on resolved.quote_number = quotes.quote_number
    left join leads
        on quotes.lead_id = leads.lead_id
    left join customer_keys
        on resolved.opportunity_id = customer_keys.record_id
    left join branch_regions
        on {{ field_crm_prefer_key(['resolved.branch_key', 'leads.branch_key']) }} = branch_regions.branch_key

),

final as (

    select
        joined.opportunity_id,
        joined.quote_number,
        joined.lead_id,
        joined.job_id,
        joined.customer_id,
        joined.sales_person_key,
        joined.branch_key,
        joined.lead_source_key,
        joined.region,
        joined.gdpr_consent,
        joined.estimated_amount,
        joined.is_amount_unreadable,
        joined.has_job,
        joined.is_orphan,
        joined.is_lead_flagged_bad,
        joined.is_also_lost,
        joined.booked_at,
        joined.booked_date,
        joined.lead_created_date,
        joined.days_from_lead_to_booking,
        {{ compliance_retention_date('joined.region', 'pipeline_events', 'joined.booked_date') }} as data_retention_date
    from joined

)

select
    opportunity_id,
    quote_number,
    lead_id,
    job_id,
    customer_id,
    sales_person_key,
    branch_key,
    lead_source_key,
    region,
    gdpr_consent,
    estimated_amount,
    is_amount_unreadable,
    has_job,
    is_orphan,
    is_lead_flagged_bad,
    is_also_lost,
    booked_at,
    booked_date,
    lead_created_date,
    days_from_lead_to_booking,
    data_retention_date
from final
where {{ in_region_scope('region') }}
