{#-
  One row per customer resolved from the normalised e-mail, else the phone (int_field_service__customer_contacts),
  with a surrogate key and a timeline. Keys and dates only: names, e-mails and phones stay in the restricted
  intermediate model. Jobs count BOOKED and CLOSED jobs; revenue and transactions done jobs only. As of the as-of date
  (macro as_of_date: source_dt, or a later build's date in a backfill): only leads, bookings and jobs dated on
  or before it count in the timeline. Every customer the facts refer to is listed (a dimension), with zero
  counts while all its records are dated later.
  Keyed by customer (macros/incremental_keys.sql): a run rebuilds the customers whose records
  int_field_service__customer_contacts, int_field_service__leads_enriched or the facts rewrote (before and after),
  and those with a lead, booking or job dated in the days the as-of date moved over.
-#}
{{ keyed_incremental(
    key='customer_id',
    source='field_crm',
    events=[
        {'model': 'int_field_service__leads_enriched', 'key': 'customer_id', 'on': 'created_date'},
        {'model': 'fct_booked_opportunities', 'key': 'customer_id', 'on': 'booked_date'},
        {'model': 'fct_jobs', 'key': 'customer_id', 'on': 'job_date'},
    ],
    parents=[
        {'model': 'int_field_service__customer_contacts', 'column': 'customer_id'},
        {'model': 'int_field_service__leads_enriched', 'column': 'customer_id'},
        {'model': 'fct_booked_opportunities', 'column': 'customer_id'},
        {'model': 'fct_jobs', 'column': 'customer_id'},
    ],
) }}

with

customer_keys as (

    select
        customer_id,
        resolved_by
    from {{ ref('int_field_service__customer_keys') }}
    where customer_id is not null and {{ keyed_filter('customer_id') }}

),

leads as (

    {{ selected_columns(ref('int_field_service__leads_enriched'), [
        'customer_id', 'lead_id', 'branch_key', 'created_date',
    ], where=field_service_customer_record_as_of('created_date') ~ ' and ' ~ keyed_filter('customer_id')) }}

),

bookings as (

    {{ selected_columns(ref('fct_booked_opportunities'), [
        'customer_id', 'opportunity_id', 'booked_date',
    ], where=field_service_customer_record_as_of('booked_date') ~ ' and ' ~ keyed_filter('customer_id')) }}

),

jobs as (

    {{ selected_columns(ref('fct_jobs'), [
        'customer_id', 'job_id', 'is_revenue_job', 'is_transaction', 'is_cancelled', 'recognised_revenue', 'job_date',
    ], where=field_service_customer_record_as_of('job_date') ~ ' and ' ~ keyed_filter('customer_id')) }}

),

identities as (

    select
        customer_id,
        case when bool_or(resolved_by in ('email', 'phone_to_email')) then 'email' else 'phone' end
            as identified_by
    from customer_keys
    group by customer_id

),

lead_timeline as (

    select
        customer_id,
        (array_agg(branch_key order by created_date, lead_id))[1] as first_branch_key,
        count(*) as leads_count,
        min(created_date) as first_lead_date
    from leads
    group by customer_id

),

booking_timeline as (

    select
        customer_id,
        count(*) as bookings_count,
        min(booked_date) as first_booking_date
    from bookings
    group by customer_id

),

job_timeline as (

    select
        customer_id,
        count(*) filter (where is_revenue_job) as jobs_count,
        count(*) filter (where is_transaction) as transactions_count,
        count(*) filter (where is_cancelled) as cancelled_jobs_count,
        coalesce(sum(recognised_revenue), 0) as lifetime_revenue,
        min(job_date) filter (where is_revenue_job) as first_job_date,
        max(job_date) filter (where is_revenue_job) as last_job_date,
        min(job_date) filter (where is_transaction) as first_transaction_date
    from jobs
    group by customer_id

),

final as (

    select
        identities.customer_id,
        lead_timeline.first_branch_key,
        identities.identified_by,
        lead_timeline.first_lead_date,
        booking_timeline.first_booking_date,
        job_timeline.first_job_date,
        job_timeline.last_job_date,
        job_timeline.first_transaction_date,
        coalesce(lead_timeline.leads_count, 0)::integer as leads_count,
        coalesce(booking_timeline.bookings_count, 0)::integer as bookings_count,
        coalesce(job_timeline.jobs_count, 0)::integer as jobs_count,
        coalesce(job_timeline.transactions_count, 0)::integer as transactions_count,
        coalesce(job_timeline.cancelled_jobs_count, 0)::integer as cancelled_jobs_count,
        coalesce(job_timeline.lifetime_revenue, 0)::numeric(16, 2) as lifetime_revenue
    from identities
    left join lead_timeline
        on identities.customer_id = lead_timeline.customer_id
    left join booking_timeline
        on identities.customer_id = booking_timeline.customer_id
    left join job_timeline
        on identities.customer_id = job_timeline.customer_id

)

select
    customer_id,
    first_branch_key,
    identified_by,
    leads_count,
    bookings_count,
    jobs_count,
    transactions_count,
    cancelled_jobs_count,
    lifetime_revenue,
    first_lead_date,
    first_booking_date,
    first_job_date,
    last_job_date,
    first_transaction_date
from final
{%- if region_scope() is not none %}
-- var regions: the customers with a lead, booking or job in scope
where leads_count + bookings_count + jobs_count + cancelled_jobs_count > 0
{%- endif %}
