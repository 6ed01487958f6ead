{#-
  Activities per business month (of due_to) and activity type, rolled up from int_activity_stats_daily
  (incremental, window delete + insert of every month the window touches, each recomputed from all the daily rows of
  that month). deals_with_done_activity_count and deals_reached_step_count are distinct deals in the month; a
  deal reaching a step through several types is credited to the type of its first done day in the month (the
  alphabetically first type that day).
-#}
{{ funnel_windowed_config(['date_month', 'activity_type'], 'date_month', 'month') }}

with

daily as (

    {{ funnel_window_rows(
        ref('int_activity_stats_daily'),
        ['date_day', 'activity_type', 'deal_id', 'activity_type_name', 'funnel_step', 'activities_count',
            'done_activities_count'],
        'date_day', 'month', month_of='date_day',
    ) }}

),

{{ funnel_step_credits('activity_type', 'funnel_step is not null and done_activities_count > 0') }},

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
        on {{ funnel_join_keys('totals', 'credited', ['date_month', 'activity_type']) }}

)

select * from final
