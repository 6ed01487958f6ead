{#-
  Cohort funnel: deals created in business month M (add_time; region of the deal) and how many of them ever
  reached each funnel step by the end of source_dt, with step-to-step conversion and drop-off. A deal has
  "reached" step N when it reached N or any later step (step_order), as a funnel reads: a deal that skipped
  stage 2 and entered 3 has passed 2. So every count is a subset of the previous step's and no ratio exceeds
  1. Only deals of the change log have a creation time, so deals known only from activities are not in any
  cohort. Event-month counts (rep_sales_funnel_monthly) and cohort conversion answer different questions.
  Keyed by cohort month (macros/incremental_keys.sql): a run rebuilds the months of the deals whose cohort row
  (int_deal_cohorts_assigned: month, region, furthest step) changed, before and after.
-#}
{{ keyed_incremental(
    key='cohort_month',
    source='pipedrive',
    parents=[{'model': 'int_deal_cohorts_assigned', 'column': 'cohort_month', 'type': 'date'}],
) }}

with

deals as (

    select
        region,
        cohort_month,
        furthest_step_order
    from {{ ref('int_deal_cohorts_assigned') }}
    where {{ keyed_filter('cohort_month') }}

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
        cohort_month,
        region,
        count(*) as cohort_deals_count
    from deals
    group by
        cohort_month,
        region

),

deal_steps as (

    -- one row per cohort deal and step: has it reached the step (or a later one), and the step before it
    select
        deals.cohort_month,
        deals.region,
        funnel_steps.funnel_step,
        coalesce(deals.furthest_step_order >= funnel_steps.step_order, false) as has_reached_step,
        previous_steps.step_order is null
        or coalesce(deals.furthest_step_order >= previous_steps.step_order, false) as has_reached_previous
    from deals
    cross join funnel_steps
    left join funnel_steps as previous_steps
        on funnel_steps.previous_funnel_step = previous_steps.funnel_step

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
