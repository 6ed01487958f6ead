{#-
  One row per job. Status semantics (seed field_crm_statuses):
    is_revenue_job  BOOKED or CLOSED (not cancelled, not unknown): the job is or was meant to bring revenue;
    is_done         CLOSED (closed / completed / done) and dated on or before the as-of date: it happened;
    is_scheduled    a revenue job that is not done: BOOKED (booked / scheduled), or CLOSED but dated after
                    the as-of date (nothing dated after it counts as happened);
    is_cancelled    CANCELLED: kept and flagged.
  The as-of date is source_dt, or a later build's in a backfill (macro as_of_date; this table is rebuilt on
  every run). recognised_revenue is the revenue of done jobs only; a transaction is a done job with a revenue
  amount. The incremental KPI tables decide by the status alone (fct_lead_conversions, metrics_daily) and hold
  no day after source_dt, which is the same for their days. A revenue that could not be read is null
  (is_revenue_unreadable; field_service_exceptions):
  the job still counts, with no amount. Sales person and branch: the job's own spelling when it resolves, else
  its booking's; lead source: its booking's. Orphan: no booking.
  Keyed by quote (macros/incremental_keys.sql): a run rebuilds the quotes a load of any field_crm file touched,
  those whose customers int_field_service__customer_contacts rewrote, and those with a job dated in the days the
  as-of date moved over (done from then on).
-#}
{{ keyed_incremental(
    key='quote_number',
    source='field_crm',
    changes=field_service_lifecycle_feeds(),
    events=[{'model': 'stg_field_crm__jobs', 'key': 'quote_number', 'on': 'job_date'}],
    parents=[{'model': 'int_field_service__customer_contacts', 'column': 'lifecycle_id'}],
    log=['customer_id', 'job_date'],
) }}

with

jobs as (

    {{ selected_columns(ref('int_field_service__jobs_selected'), [
        'job_id', 'quote_number', 'job_status', 'sales_person', 'branch', 'origin_city', 'destination_city',
        'revenue_amount', 'unreadable_revenue', 'is_revenue_job', 'is_cancelled', 'job_date',
    ], where=keyed_filter('quote_number')) }}

),

variants as (

    {{ selected_columns(ref('int_field_service__name_variants'), ['dimension', 'raw_value', 'canonical_key']) }}

),

quotes as (

    {{ selected_columns(ref('int_field_service__quotes_linked'), [
        'quote_number', 'lead_id', 'opportunity_id', 'has_booking',
    ], where=keyed_filter('quote_number')) }}

),

bookings as (

    {{ selected_columns(ref('fct_booked_opportunities'), [
        'opportunity_id', 'sales_person_key', 'branch_key', 'lead_source_key', 'region', 'gdpr_consent',
        'booked_date',
    ], where='opportunity_id in (select quotes.opportunity_id from quotes)') }}

),

leads as (

    {{ selected_columns(ref('int_field_service__leads_enriched'), [
        'lead_id', 'sales_person_key', 'branch_key', 'lead_source_key', 'region', 'gdpr_consent',
    ], where='lead_id in (select quotes.lead_id from quotes)') }}

),

customer_keys as (

    {{ selected_columns(ref('int_field_service__customer_keys'), [
        'record_id', 'customer_id',
    ], where="record_type = 'job' and record_id in (select jobs.job_id from jobs)") }}

),

branch_regions as (

    {{ selected_columns(ref('int_field_service__branch_regions'), ['branch_key', 'region']) }}

),

resolved as (

    select
        jobs.job_id,
        jobs.quote_number,
        jobs.job_status,
        {{ field_crm_resolved_key('jobs.sales_person', 'sales_person_variants') }} as sales_person_key,
        {{ field_crm_resolved_key('jobs.branch', 'branch_variants') }} as branch_key,
        jobs.origin_city,
        jobs.destination_city,
        jobs.revenue_amount,
        jobs.unreadable_revenue is not null as is_revenue_unreadable,
        jobs.is_revenue_job,
        jobs.job_status = 'CLOSED' and jobs.job_date <= {{ as_of_date() }} as is_done,
        jobs.is_cancelled,
        jobs.job_date
    from jobs
    {{ field_service_variant_joins('jobs', ['sales_person', 'branch']) }}

),

joined as (

    select
        resolved.job_id,
        resolved.quote_number,
        quotes.opportunity_id,
        quotes.lead_id,
        customer_keys.customer_id,
        {{ field_crm_prefer_key(['resolved.sales_person_key', 'bookings.sales_person_key', 'leads.sales_person_key']) }}
            as sales_person_key,
        {{ field_crm_prefer_key(['resolved.branch_key', 'bookings.branch_key', 'leads.branch_key']) }} as branch_key,
        coalesce(
            {{ field_crm_prefer_key(['bookings.lead_source_key', 'leads.lead_source_key']) }}, 'unknown'
        ) as lead_source_key,
        coalesce(bookings.region, leads.region, branch_regions.region) as region,
        coalesce(
            bookings.gdpr_consent, leads.gdpr_consent, '{{ var("compliance_default_consent", "unknown") }}'
        ) as gdpr_consent,
        resolved.job_status,
        resolved.origin_city,
        resolved.destination_city,
        resolved.revenue_amount,
        resolved.is_revenue_unreadable,
        case when resolved.is_done then coalesce(resolved.revenue_amount, 0) else 0 end as recognised_revenue,
        resolved.is_revenue_job,
        resolved.is_done,
        resolved.is_revenue_job and not resolved.is_done as is_scheduled,
        resolved.is_done and resolved.revenue_amount is not null as is_transaction,
        resolved.is_cancelled,
        not coalesce(quotes.has_booking, false) as is_orphan,
        resolved.job_date,
        bookings.booked_date,
        resolved.job_date - bookings.booked_date as days_from_booking_to_job
    from resolved
    left join quotes
        on resolved.quote_number = quotes.quote_number
    left join bookings
        on quotes.opportunity_id = bookings.opportunity_id
    left join leads
        on quotes.lead_id = leads.lead_id
    left join customer_keys
        on resolved.job_id = customer_keys.record_id
    left join branch_regions
        on resolved.branch_key = branch_regions.branch_key

),

final as (

    select
        joined.job_id,
        joined.quote_number,
        joined.opportunity_id,
        joined.lead_id,
        joined.customer_id,
        joined.sales_person_key,
        joined.branch_key,
        joined.lead_source_key,
        joined.region,
        joined.gdpr_consent,
        joined.job_status,
        joined.origin_city,
        joined.destination_city,
        joined.revenue_amount,
        joined.is_revenue_unreadable,
        joined.recognised_revenue,
        joined.is_revenue_job,
        joined.is_done,
        joined.is_scheduled,
        joined.is_transaction,
        joined.is_cancelled,
        joined.is_orphan,
        joined.job_date,
        joined.booked_date,
        joined.days_from_booking_to_job,
        {{ compliance_retention_date('joined.region', 'pipeline_events', 'joined.job_date') }} as data_retention_date
    from joined

)

select
    job_id,
    quote_number,
    opportunity_id,
    lead_id,
    customer_id,
    sales_person_key,
    branch_key,
    lead_source_key,
    region,
    gdpr_consent,
    job_status,
    origin_city,
    destination_city,
    revenue_amount,
    is_revenue_unreadable,
    recognised_revenue,
    is_revenue_job,
    is_done,
    is_scheduled,
    is_transaction,
    is_cancelled,
    is_orphan,
    job_date,
    booked_date,
    days_from_booking_to_job,
    data_retention_date
from final
where {{ in_region_scope('region') }}
