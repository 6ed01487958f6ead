{#-
  Activities per business day (of due_to) and activity type (incremental, delete+insert over the window).

  Grain: date_day x activity_type, days with at least one activity due. As in daily_deal_stats, the
  first-in-month counts make monthly distinct counts exact: deals_first_done_in_month_count counts a deal on
  the first day of the month it had a done activity of the type, deals_first_reached_step_in_month_count on
  the first day of the month it reached the type's funnel step (2.1 / 3.1; credited to the alphabetically
  first type reaching the step that day). The source is read from the first day of the window's month; rows
  are written for the window's days only. Overdue flags depend on source_dt and live in activity_volume_daily.
-#}
-- depends_on: {{ ref('int_deal_regions_resolved') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['date_day', 'activity_type'],
    pre_hook="{{ delete_window('date_day', 'day') }}",
    on_schema_change='fail',
) }}

with

activities as (

    select
        deal_id,
        activity_type,
        is_done,
        {{ to_business_date('due_at') }} as due_date
    from {{ ref('stg_pipedrive__activities') }}
    where
        {{ window_filter_at('due_at', 'month') }}
        and {{ pipedrive_in_region_scope('deal_id', 'owner_user_id') }}

),

activity_types as (

    select
        activity_type,
        activity_type_name
    from {{ ref('stg_pipedrive__activity_types') }}

),

funnel_steps as (

    select
        funnel_step,
        lower(btrim(activity_type_name)) as activity_type_name_key
    from {{ ref('funnel_steps') }}
    where reached_by = 'done_activity'

),

mapped as (

    select
        activities.deal_id,
        activities.activity_type,
        activity_types.activity_type_name,
        funnel_steps.funnel_step,
        activities.is_done,
        activities.due_date,
        {{ crm_month_start('activities.due_date') }} as due_month
    from activities
    left join activity_types
        on activities.activity_type = activity_types.activity_type
    left join funnel_steps
        on lower(activity_types.activity_type_name) = funnel_steps.activity_type_name_key

),

ranked as (

    select
        deal_id,
        activity_type,
        activity_type_name,
        funnel_step,
        is_done,
        due_date,
        row_number() over (
            partition by deal_id, activity_type, due_month, is_done
            order by due_date
        ) as type_rank_in_month,
        row_number() over (
            partition by deal_id, funnel_step, due_month, is_done
            order by due_date, activity_type
        ) as step_rank_in_month
    from mapped

),

daily as (

    select
        due_date as date_day,
        activity_type,
        max(activity_type_name) as activity_type_name,
        max(funnel_step) as funnel_step,
        count(*) as activities_count,
        count(*) filter (where is_done) as done_activities_count,
        count(distinct deal_id) filter (where is_done) as deals_with_done_activity_count,
        count(*) filter (where is_done and type_rank_in_month = 1) as deals_first_done_in_month_count,
        count(*) filter (
            where is_done and funnel_step is not null and step_rank_in_month = 1
        ) as deals_first_reached_step_in_month_count
    from ranked
    group by
        due_date,
        activity_type

),

final as (

    select
        date_day,
        activity_type,
        activity_type_name,
        funnel_step,
        activities_count,
        done_activities_count,
        deals_with_done_activity_count,
        deals_first_done_in_month_count,
        deals_first_reached_step_in_month_count
    from daily
    where {{ window_filter('date_day', 'day') }}

)

select
    date_day,
    activity_type,
    activity_type_name,
    funnel_step,
    activities_count,
    done_activities_count,
    deals_with_done_activity_count,
    deals_first_done_in_month_count,
    deals_first_reached_step_in_month_count
from final
