{#-
  Activities per business month (of due_to) and activity type, rolled up from daily_activity_stats
  (incremental, delete+insert of every month the window touches, recomputed from all daily rows of those
  months so it equals a full refresh). deals_with_done_activity_count / deals_reached_step_count are
  distinct deals in the month (sums of the daily first-in-month counts).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['date_month', 'activity_type'],
    pre_hook="{{ delete_window('date_month', 'month') }}",
    on_schema_change='fail',
) }}

with

daily as (

    select
        date_day,
        activity_type,
        activity_type_name,
        funnel_step,
        activities_count,
        done_activities_count,
        deals_first_done_in_month_count,
        deals_first_reached_step_in_month_count
    from {{ ref('daily_activity_stats') }}
    where {{ window_filter('date_day', 'month') }}

),

final as (

    select
        {{ crm_month_start('date_day') }} as date_month,
        activity_type,
        max(activity_type_name) as activity_type_name,
        max(funnel_step) as funnel_step,
        cast(sum(activities_count) as bigint) as activities_count,
        cast(sum(done_activities_count) as bigint) as done_activities_count,
        cast(sum(deals_first_done_in_month_count) as bigint) as deals_with_done_activity_count,
        cast(sum(deals_first_reached_step_in_month_count) as bigint) as deals_reached_step_count
    from daily
    group by
        {{ crm_month_start('date_day') }},
        activity_type

)

select
    date_month,
    activity_type,
    activity_type_name,
    funnel_step,
    activities_count,
    done_activities_count,
    deals_with_done_activity_count,
    deals_reached_step_count
from final
