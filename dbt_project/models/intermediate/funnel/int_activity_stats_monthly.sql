{#-
  Activities per business month (of due_to) and activity type, rolled up from int_activity_stats_daily
  (incremental, window delete + insert of every month the window touches, each recomputed from all the daily rows of
  that month). deals_with_done_activity_count and deals_reached_step_count are distinct deals in the month; a
  deal reaching a step through several types is credited to the type of its first done day in the month (the
  alphabetically first type that day).
-#}
{{ config(
    unique_key=['date_month', 'activity_type'],
    meta={'window': {'column': 'date_month', 'grain': 'month'}},
) }}
{{ windowed_incremental() }}

with

daily as (

    select
        date_day,
        activity_type,
        deal_id,
        activity_type_name,
        funnel_step,
        activities_count,
        done_activities_count,
        {{ crm_month_start('date_day') }} as date_month
    from {{ ref('int_activity_stats_daily') }}
    where {{ window_filter('date_day', 'month') }}

),

step_reaches as (

    select
        date_month,
        activity_type,
        row_number() over (
            partition by deal_id, funnel_step, date_month
            order by date_day, activity_type
        ) as step_rank_in_month
    from daily
    where funnel_step is not null and done_activities_count > 0

),

credited as (

    select
        date_month,
        activity_type,
        count(*) as deals_reached_step_count
    from step_reaches
    where step_rank_in_month = 1
    group by
        date_month,
        activity_type

),

totals as (

    select
        date_month,
        activity_type,
        max(activity_type_name) as activity_type_name,
        max(funnel_step) as funnel_step,
        sum(activities_count) as activities_count,
        sum(done_activities_count) as done_activities_count,
        count(distinct deal_id) filter (where done_activities_count > 0) as deals_with_done_activity_count
    from daily
    group by
        date_month,
        activity_type

),

final as (

    select
        totals.date_month,
        totals.activity_type,
        totals.activity_type_name,
        totals.funnel_step,
        cast(totals.activities_count as bigint) as activities_count,
        cast(totals.done_activities_count as bigint) as done_activities_count,
        cast(totals.deals_with_done_activity_count as bigint) as deals_with_done_activity_count,
        cast(coalesce(credited.deals_reached_step_count, 0) as bigint) as deals_reached_step_count
    from totals
    left join credited
        on
            totals.date_month = credited.date_month
            and totals.activity_type = credited.activity_type

)

select * from final
