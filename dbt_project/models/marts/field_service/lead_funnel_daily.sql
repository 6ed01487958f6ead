{{ config(
    unique_key=['funnel_date', 'lead_source_key', 'branch_key', 'sales_person_key', 'region'],
    meta={'window': {'column': 'funnel_date', 'grain': 'day', 'late': [
        {'model': 'fct_lead_conversions', 'column': 'event_date'},
    ]}},
) }}
{{ windowed_incremental() }}
{#-
  Lead funnel per business day, lead source, branch, sales person and region: how many lifecycle events of
  each type happened that day (fct_lead_conversions), and flow ratios (events of the period over events of the
  period, e.g. bookings of the day / leads created that day: not a share of anything, may exceed 1; the cohort
  conversion is in lead_cohort_monthly). Jobs done = CLOSED jobs; scheduled (not done) jobs are counted apart.
  A run replaces the window [source_dt - backfill_period, source_dt] (macros/incremental_window.sql) and the
  earlier days of the events fct_lead_conversions rewrote since (late days, macros/incremental_late.sql: a booking
  for a lead created weeks ago adds a quote on the lead's creation day); a row depends only on the events of its
  own day (no day after source_dt). data_retention_date: the latest of its
  events' (a purge that removes them all removes the row).
-#}
with

events as (

    {{ selected_columns(ref('fct_lead_conversions'), [
        'event_date', 'event_type', 'lead_source_key', 'branch_key', 'sales_person_key', 'region', 'conversion_value',
        'data_retention_date',
    ], where=window_filter('event_date', 'day')) }}

),

counted as (

    select
        event_date as funnel_date,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        count(*) filter (where event_type = 'created') as leads_count,
        count(*) filter (where event_type = 'quoted') as quoted_count,
        count(*) filter (where event_type = 'booked') as booked_count,
        count(*) filter (where event_type = 'converted') as jobs_done_count,
        count(*) filter (where event_type = 'scheduled') as jobs_scheduled_count,
        count(*) filter (where event_type = 'lost') as lost_count,
        count(*) filter (where event_type = 'bad') as bad_count,
        coalesce(sum(conversion_value) filter (where event_type = 'booked'), 0) as booked_value,
        coalesce(sum(conversion_value) filter (where event_type = 'converted'), 0) as revenue,
        max(data_retention_date) as data_retention_date
    from events
    group by event_date, lead_source_key, branch_key, sales_person_key, region

),

final as (

    {{ lead_funnel_final('funnel_date', 'counted') }}

)

select * from final
