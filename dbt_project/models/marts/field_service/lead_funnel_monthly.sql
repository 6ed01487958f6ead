{{ config(
    unique_key=['funnel_month', 'lead_source_key', 'branch_key', 'sales_person_key', 'region'],
    meta={'window': {'column': 'funnel_month', 'grain': 'month'}},
) }}
{{ windowed_incremental() }}
{#-
  lead_funnel_daily rolled up to business months (funnel_month = first day), flow ratios recomputed from the
  sums. A run replaces every month the daily window touches, re-summed from all the daily rows of that month.
-#}
with

daily as (

    select
        funnel_date,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        leads_count,
        quoted_count,
        booked_count,
        jobs_done_count,
        jobs_scheduled_count,
        lost_count,
        bad_count,
        booked_value,
        revenue,
        data_retention_date
    from {{ ref('lead_funnel_daily') }}
    where {{ window_filter('funnel_date', 'month') }}

),

summed as (

    select
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        date_trunc('month', funnel_date)::date as funnel_month,
        sum(leads_count) as leads_count,
        sum(quoted_count) as quoted_count,
        sum(booked_count) as booked_count,
        sum(jobs_done_count) as jobs_done_count,
        sum(jobs_scheduled_count) as jobs_scheduled_count,
        sum(lost_count) as lost_count,
        sum(bad_count) as bad_count,
        sum(booked_value) as booked_value,
        sum(revenue) as revenue,
        max(data_retention_date) as data_retention_date
    from daily
    group by date_trunc('month', funnel_date)::date, lead_source_key, branch_key, sales_person_key, region

),

final as (

    select
        funnel_month,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        data_retention_date,
        leads_count::integer as leads_count,
        quoted_count::integer as quoted_count,
        booked_count::integer as booked_count,
        jobs_done_count::integer as jobs_done_count,
        jobs_scheduled_count::integer as jobs_scheduled_count,
        lost_count::integer as lost_count,
        bad_count::integer as bad_count,
        booked_value::numeric(16, 2) as booked_value,
        revenue::numeric(16, 2) as revenue,
        round(booked_count::numeric / nullif(leads_count, 0), 4)::numeric(12, 4)
            as bookings_per_lead_flow_rate,
        round(jobs_done_count::numeric / nullif(booked_count, 0), 4)::numeric(12, 4)
            as jobs_done_per_booking_flow_rate,
        round(jobs_done_count::numeric / nullif(leads_count, 0), 4)::numeric(12, 4)
            as jobs_done_per_lead_flow_rate
    from summed

)

select
    funnel_month,
    lead_source_key,
    branch_key,
    sales_person_key,
    region,
    leads_count,
    quoted_count,
    booked_count,
    jobs_done_count,
    jobs_scheduled_count,
    lost_count,
    bad_count,
    booked_value,
    revenue,
    bookings_per_lead_flow_rate,
    jobs_done_per_booking_flow_rate,
    jobs_done_per_lead_flow_rate,
    data_retention_date
from final
