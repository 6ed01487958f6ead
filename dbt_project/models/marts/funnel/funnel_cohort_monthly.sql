{#-
  Cohort funnel: deals created in business month M (add_time; region of the deal) and how many of them ever
  reached each funnel step by the end of source_dt, with step-to-step conversion and drop-off. A deal has
  "reached" step N when it reached N or any later step (step_order), as a funnel reads: a deal that skipped
  stage 2 and entered 3 has passed 2. So every count is a subset of the previous step's and no ratio exceeds
  1. Only deals of the change log have a creation time, so deals known only from activities are not in any
  cohort. Event-month counts (rep_sales_funnel_monthly) and cohort conversion answer different questions.
  Keyed by cohort month (macros/incremental_keys.sql): a run rebuilds the months a changed deal can be in (the
  months of its changes and add_times: its cohort before and after the change), and the month the as-of date
  entered.
-#}
{%- set deal_months = [
    'stg_pipedrive__deal_changes', 'deal_id',
    'unnest(array[' ~ to_business_month('changed_at') ~ ', ' ~ to_business_month('added_at') ~ '])',
] %}
{{ keyed_incremental(
    key='cohort_month',
    source='pipedrive',
    changes=[
        {'model': 'base_pipedrive__deal_changes', 'key': 'deal_id', 'through': deal_months},
        {'model': 'base_pipedrive__activities', 'key': 'deal_id', 'through': deal_months},
    ],
    events=[
        {'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at', 'through': deal_months},
        {'model': 'stg_pipedrive__activities', 'key': 'deal_id', 'at': 'due_at', 'through': deal_months},
    ],
    as_of_keys=crm_month_start('as_of_day'),
) }}

with

deals as (

    -- deal ids, as the funnel counts them: an id reused for two deals is in the cohort of its first creation
    select
        deal_id,
        region,
        created_month
    from {{ ref('int_deals_consolidated') }}
    where
        deal_episode = 1
        and created_month <= {{ as_of_date() }}
        and {{ keyed_filter('created_month') }}

),

steps_reached as (

    select
        deal_id,
        funnel_step
    from {{ ref('int_deal_funnel_steps_reached') }}
    where
        deal_id in (select deals.deal_id from deals)
        and first_reached_at < {{ business_day_end(as_of_date()) }}

),

funnel_steps as (

    select
        funnel_step,
        step_order,
        kpi_name,
        previous_funnel_step
    from {{ ref('funnel_steps') }}

),

cohorts as (

    select
        created_month as cohort_month,
        region,
        count(*) as cohort_deals_count
    from deals
    group by
        created_month,
        region

),

furthest_steps as (

    -- per deal, the furthest step it reached
    select
        steps_reached.deal_id,
        max(funnel_steps.step_order) as furthest_step_order
    from steps_reached
    inner join funnel_steps
        on steps_reached.funnel_step = funnel_steps.funnel_step
    group by steps_reached.deal_id

),

deal_steps as (

    -- one row per cohort deal and step: has it reached the step (or a later one), and the step before it
    select
        deals.created_month as cohort_month,
        deals.region,
        funnel_steps.funnel_step,
        coalesce(furthest_steps.furthest_step_order >= funnel_steps.step_order, false) as has_reached_step,
        previous_steps.step_order is null
        or coalesce(furthest_steps.furthest_step_order >= previous_steps.step_order, false) as has_reached_previous
    from deals
    cross join funnel_steps
    left join funnel_steps as previous_steps
        on funnel_steps.previous_funnel_step = previous_steps.funnel_step
    left join furthest_steps
        on deals.deal_id = furthest_steps.deal_id

),

step_counts as (

    select
        cohort_month,
        region,
        funnel_step,
        count(*) filter (where has_reached_step) as deals_reached_count,
        count(*) filter (where has_reached_previous) as previous_step_deals_count,
        count(*) filter (where has_reached_previous and has_reached_step) as deals_converted_count
    from deal_steps
    group by
        cohort_month,
        region,
        funnel_step

),

final as (

    select
        step_counts.cohort_month,
        step_counts.region,
        step_counts.funnel_step,
        funnel_steps.kpi_name,
        funnel_steps.previous_funnel_step,
        cast(funnel_steps.step_order as integer) as step_order,
        cast(cohorts.cohort_deals_count as bigint) as cohort_deals_count,
        cast(step_counts.deals_reached_count as bigint) as deals_reached_count,
        cast(step_counts.previous_step_deals_count as bigint) as previous_step_deals_count,
        cast(step_counts.deals_converted_count as bigint) as deals_converted_count,
        cast(step_counts.previous_step_deals_count - step_counts.deals_converted_count as bigint)
            as drop_off_count,
        -- the contract's types, exactly: an incremental run compares its batch's columns with the table's
        cast(
            cast(step_counts.deals_reached_count as numeric) / nullif(cohorts.cohort_deals_count, 0) as numeric(9, 4)
        ) as reach_rate,
        cast(
            cast(step_counts.deals_converted_count as numeric) / nullif(step_counts.previous_step_deals_count, 0)
            as numeric(9, 4)
        ) as conversion_rate,
        cast(
            cast(step_counts.previous_step_deals_count - step_counts.deals_converted_count as numeric)
            / nullif(step_counts.previous_step_deals_count, 0)
            as numeric(9, 4)
        ) as drop_off_rate
    from step_counts
    inner join cohorts
        on
            step_counts.cohort_month = cohorts.cohort_month
            and step_counts.region = cohorts.region
    inner join funnel_steps
        on step_counts.funnel_step = funnel_steps.funnel_step

)

select * from final
