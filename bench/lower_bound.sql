-- Lower bound for rep_sales_funnel_monthly: the same numbers computed by hand in one pass over the raw
-- landing tables (raw_pipedrive.deal_changes once, raw_pipedrive.activity once), with no staging, no
-- intermediate tables and no incremental bookkeeping. The benchmark times it and checks its result equals
-- the mart row for row, so the report can say how close the dbt build is to what PostgreSQL itself needs.
--
-- Definition (issue 3): deals_count = number of distinct deal_id that reached the step in the calendar
-- month (in the business time zone). Steps 1-9: the deal's stage_id changes to that stage
-- (time = change_time). Steps 2.1 / 3.1: the deal has a done activity whose type is named
-- 'Sales Call 1' / 'Sales Call 2' in activity_types (time = due_to). Raw timestamps carry no zone and are
-- UTC. Events after source_dt (in the business time zone) are not counted. The result is a complete
-- month x step grid from the first month with an event to source_dt's month; a step nobody reached
-- shows 0.
--
-- Placeholders, filled in as SQL literals by the benchmark (bench/measures_build.py):
--   {source_dt}          date, the run's reference day
--   {business_timezone}  text, IANA zone (the dbt var business_timezone, default UTC)
with

steps (funnel_step, step_order, kpi_name, stage_id, activity_type_name) as (

    values
    ('1', 1, 'Lead Generation', 1, null),
    ('2', 2, 'Qualified Lead', 2, null),
    ('2.1', 3, 'Sales Call 1', null, 'Sales Call 1'),
    ('3', 4, 'Needs Assessment', 3, null),
    ('3.1', 5, 'Sales Call 2', null, 'Sales Call 2'),
    ('4', 6, 'Proposal/Quote Preparation', 4, null),
    ('5', 7, 'Negotiation', 5, null),
    ('6', 8, 'Closing', 6, null),
    ('7', 9, 'Implementation/Onboarding', 7, null),
    ('8', 10, 'Follow-up/Customer Success', 8, null),
    ('9', 11, 'Renewal/Expansion', 9, null)

),

stage_events as (

    select
        cast(changes.deal_id as bigint) as deal_id,
        cast(changes.new_value as bigint) as stage_id,
        (cast(changes.change_time as timestamp) at time zone 'UTC') at time zone {business_timezone} as local_at
    from raw_pipedrive.deal_changes as changes
    where changes.changed_field_key = 'stage_id'

),

call_events as (

    select
        cast(activity.deal_id as bigint) as deal_id,
        activity_types.name as activity_type_name,
        (cast(activity.due_to as timestamp) at time zone 'UTC') at time zone {business_timezone} as local_at
    from raw_pipedrive.activity as activity
    inner join raw_pipedrive.activity_types as activity_types
        on activity.type = activity_types.type
    where
        lower(activity.done) in ('true', 'yes', 'y', 't', '1')
        and activity_types.name in ('Sales Call 1', 'Sales Call 2')

),

events as (

    select
        stage_events.deal_id,
        steps.funnel_step,
        cast(date_trunc('month', stage_events.local_at) as date) as month
    from stage_events
    inner join steps
        on stage_events.stage_id = steps.stage_id
    where stage_events.local_at < cast({source_dt} as date) + 1

    union all

    select
        call_events.deal_id,
        steps.funnel_step,
        cast(date_trunc('month', call_events.local_at) as date) as month
    from call_events
    inner join steps
        on call_events.activity_type_name = steps.activity_type_name
    where call_events.local_at < cast({source_dt} as date) + 1

),

counts as (

    select
        month,
        funnel_step,
        count(distinct deal_id) as deals_count
    from events
    group by month, funnel_step

),

months as (

    select cast(month_start as date) as month
    from generate_series(
        (select min(month) from counts),
        cast(date_trunc('month', cast({source_dt} as date)) as date),
        interval '1 month'
    ) as month_start

)

select
    months.month,
    steps.kpi_name,
    steps.funnel_step,
    coalesce(counts.deals_count, 0) as deals_count
from months
cross join steps
left join counts
    on
        months.month = counts.month
        and steps.funnel_step = counts.funnel_step
order by months.month, steps.step_order
