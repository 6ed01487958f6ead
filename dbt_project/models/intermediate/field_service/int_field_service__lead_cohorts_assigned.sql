{#-
  One row per lead of fct_lead_conversions (its 'created' event): its cohort (business month of creation), the
  lead's lead source, branch, sales person and region, and the dates of its first booking and first done job,
  whenever they are (no as-of date: lead_cohort_monthly applies it when it adds the rows up, so a new day only
  moves which dates count, not these rows). What lead_cohort_monthly adds up instead of the events of every lead
  of the months a day touches.
  Keyed by lead (macros/incremental_keys.sql): a run rebuilds the leads whose events fct_lead_conversions
  changed, and logs the cohort months of the rows it changed.
-#}
{{ keyed_incremental(
    key='lead_id',
    source='field_crm',
    parents=[{'model': 'fct_lead_conversions', 'column': 'lead_id'}],
    log=['cohort_month'],
) }}

with

lead_events as (

    select
        lead_id,
        event_type,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        event_date,
        data_retention_date
    from {{ ref('fct_lead_conversions') }}
    where
        event_type in ('created', 'booked', 'converted')
        and lead_id is not null
        and {{ keyed_filter('lead_id') }}

),

leads as (

    select
        lead_id,
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        data_retention_date,
        event_date as created_date
    from lead_events
    where event_type = 'created'

),

outcomes as (

    select
        lead_id,
        min(event_date) filter (where event_type = 'booked') as first_booked_date,
        min(event_date) filter (where event_type = 'converted') as first_job_done_date
    from lead_events
    where event_type in ('booked', 'converted')
    group by lead_id

),

final as (

    select
        leads.lead_id,
        leads.created_date,
        leads.lead_source_key,
        leads.branch_key,
        leads.sales_person_key,
        leads.region,
        outcomes.first_booked_date,
        outcomes.first_job_done_date,
        leads.data_retention_date,
        date_trunc('month', leads.created_date)::date as cohort_month
    from leads
    left join outcomes
        on leads.lead_id = outcomes.lead_id

)

select * from final
