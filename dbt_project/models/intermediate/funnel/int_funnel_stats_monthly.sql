{#-
  The funnel per business month and step: distinct deals that reached the step in the month, from stage
  changes (int_deal_stats_monthly) and done activities (int_activity_stats_monthly). Incremental, window delete +
  insert of the months the window touches. Only steps reached in the month have a row; rep_sales_funnel_monthly adds
  the zeros.
-#}
{{ funnel_windowed_config(['date_month', 'funnel_step'], 'date_month', 'month') }}

with

monthly_deals as (

    {{ funnel_window_rows(
        ref('int_deal_stats_monthly'),
        ['date_month', 'funnel_step', 'deals_reached_step_count', 'stage_entries_count'],
        'date_month', 'month', where='funnel_step is not null',
    ) }}

),

monthly_activities as (

    {{ funnel_window_rows(
        ref('int_activity_stats_monthly'),
        ['date_month', 'funnel_step', 'deals_reached_step_count', 'done_activities_count'],
        'date_month', 'month', where='funnel_step is not null',
    ) }}

),

funnel_steps as (

    select
        funnel_step,
        step_order,
        kpi_name,
        reached_by
    from {{ ref('funnel_steps') }}

),

unioned as (

    select
        date_month,
        funnel_step,
        deals_reached_step_count,
        stage_entries_count,
        0 as done_activities_count
    from monthly_deals
    union all
    select
        date_month,
        funnel_step,
        deals_reached_step_count,
        0 as stage_entries_count,
        done_activities_count
    from monthly_activities

),

final as (

    select
        unioned.date_month,
        unioned.funnel_step,
        funnel_steps.step_order,
        funnel_steps.kpi_name,
        funnel_steps.reached_by,
        cast(sum(unioned.deals_reached_step_count) as bigint) as deals_count,
        cast(sum(unioned.stage_entries_count) as bigint) as stage_entries_count,
        cast(sum(unioned.done_activities_count) as bigint) as done_activities_count
    from unioned
    inner join funnel_steps
        on unioned.funnel_step = funnel_steps.funnel_step
    group by
        unioned.date_month,
        unioned.funnel_step,
        funnel_steps.step_order,
        funnel_steps.kpi_name,
        funnel_steps.reached_by

)

select * from final
