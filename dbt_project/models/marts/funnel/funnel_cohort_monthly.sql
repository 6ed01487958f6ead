{#-
  Cohort funnel: deals created in business month M (add_time; region of the deal) and how many of them ever
  reached each funnel step by the end of source_dt, with step-to-step conversion and drop-off. Only deals of
  the change log have a creation time, so deals known only from activities are not in any cohort.
  Event-month counts (rep_sales_funnel_monthly) and cohort conversion answer different questions.
-#}
with

deals as (

    select
        deal_id,
        region,
        created_month
    from {{ ref('int_deals_consolidated') }}
    where created_month <= {{ ref_date() }}

),

steps_reached as (

    select
        deal_id,
        funnel_step
    from {{ ref('int_deal_funnel_steps_reached') }}

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

deal_steps as (

    -- one row per cohort deal and step, saying whether it reached the step and the step before it
    select
        deals.created_month as cohort_month,
        deals.region,
        funnel_steps.funnel_step,
        this_step.deal_id is not null as has_reached_step,
        funnel_steps.previous_funnel_step is null or previous_step.deal_id is not null as has_reached_previous
    from deals
    cross join funnel_steps
    left join steps_reached as this_step
        on
            deals.deal_id = this_step.deal_id
            and funnel_steps.funnel_step = this_step.funnel_step
    left join steps_reached as previous_step
        on
            deals.deal_id = previous_step.deal_id
            and funnel_steps.previous_funnel_step = previous_step.funnel_step

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
        round(
            cast(step_counts.deals_reached_count as numeric) / nullif(cohorts.cohort_deals_count, 0), 4
        ) as reach_rate,
        round(
            cast(step_counts.deals_converted_count as numeric) / nullif(step_counts.previous_step_deals_count, 0),
            4
        ) as conversion_rate,
        round(
            cast(step_counts.previous_step_deals_count - step_counts.deals_converted_count as numeric)
            / nullif(step_counts.previous_step_deals_count, 0),
            4
        ) as drop_off_rate
    from step_counts
    inner join cohorts
        on
            step_counts.cohort_month = cohorts.cohort_month
            and step_counts.region = cohorts.region
    inner join funnel_steps
        on step_counts.funnel_step = funnel_steps.funnel_step

)

select
    cohort_month,
    region,
    funnel_step,
    kpi_name,
    previous_funnel_step,
    step_order,
    cohort_deals_count,
    deals_reached_count,
    previous_step_deals_count,
    deals_converted_count,
    drop_off_count,
    reach_rate,
    conversion_rate,
    drop_off_rate
from final
