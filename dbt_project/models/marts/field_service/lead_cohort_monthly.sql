{#-
  Cohort conversion of the leads created in a business month (cohort_month = first day), per lead source,
  branch, sales person and region of the lead (fct_lead_conversions 'created' events), as of the as-of date
  (written source_dt below: it is source_dt, or a later build's date in a backfill; macro as_of_date):
    leads_count                        leads created in the month, on or before source_dt;
    leads_booked_count                 of them, the leads with a booking dated on or before source_dt (ever);
    leads_30_days_observed_count       of them, the leads created at least 30 days before source_dt;
    leads_booked_within_30_days_count  of those, the leads whose first booking is at most 30 days after creation;
    leads_job_done_count               of all of them, the leads with a done job (CLOSED, dated <= source_dt);
  and the shares lead_to_booking_rate, lead_to_booking_30_day_rate and lead_to_job_done_rate (each numerator is a
  subset of its denominator, so a share is never above 1). A booking belongs to the lead of its quote
  (fct_booked_opportunities.lead_id); orphan bookings belong to no cohort. It adds up the per-lead rows of
  int_field_service__lead_cohorts_assigned (cohort, attributes, first booking and first done job), applying the
  as-of date here. Keyed by cohort month (macros/incremental_keys.sql): a run rebuilds the months of the leads
  whose per-lead row changed, of the events dated in the days the as-of date moved over, and of the leads that
  turned 30 days old then.
-#}
{{ keyed_incremental(
    key='cohort_month',
    source='field_crm',
    events=[{'model': 'fct_lead_conversions', 'key': crm_month_start('lead_created_date'), 'on': 'event_date'}],
    parents=[{'model': 'int_field_service__lead_cohorts_assigned', 'column': 'cohort_month', 'type': 'date'}],
    as_of_keys=crm_month_start('as_of_day - 30'),
) }}

with

cohort_leads as (

    select
        cohort_month,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        data_retention_date,
        coalesce(first_booked_date <= {{ as_of_date() }}, false) as is_booked,
        coalesce(first_job_done_date <= {{ as_of_date() }}, false) as is_job_done,
        created_date + 30 <= {{ as_of_date() }} as is_30_days_observed,
        -- the first booking as of source_dt is the first booking when that one is dated by source_dt
        coalesce(first_booked_date <= {{ as_of_date() }} and first_booked_date <= created_date + 30, false)
            as is_booked_within_30_days
    from {{ ref('int_field_service__lead_cohorts_assigned') }}
    where
        created_date <= {{ as_of_date() }}
        and {{ keyed_filter('cohort_month') }}

),

counted as (

    select
        cohort_month,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        count(*) as leads_count,
        count(*) filter (where is_booked) as leads_booked_count,
        count(*) filter (where is_30_days_observed) as leads_30_days_observed_count,
        count(*) filter (where is_30_days_observed and is_booked_within_30_days)
            as leads_booked_within_30_days_count,
        count(*) filter (where is_job_done) as leads_job_done_count,
        max(data_retention_date) as data_retention_date
    from cohort_leads
    group by cohort_month, lead_source_key, branch_key, sales_person_key, region

),

final as (

    select
        counted.cohort_month,
        counted.lead_source_key,
        counted.branch_key,
        counted.sales_person_key,
        counted.region,
        counted.leads_count::integer as leads_count,
        counted.leads_booked_count::integer as leads_booked_count,
        counted.leads_30_days_observed_count::integer as leads_30_days_observed_count,
        counted.leads_booked_within_30_days_count::integer as leads_booked_within_30_days_count,
        counted.leads_job_done_count::integer as leads_job_done_count,
        {{ field_service_ratio('counted.leads_booked_count', 'counted.leads_count') }} as lead_to_booking_rate,
        {{ field_service_ratio('counted.leads_booked_within_30_days_count', 'counted.leads_30_days_observed_count') }}
            as lead_to_booking_30_day_rate,
        {{ field_service_ratio('counted.leads_job_done_count', 'counted.leads_count') }} as lead_to_job_done_rate,
        counted.data_retention_date
    from counted

)

select * from final
