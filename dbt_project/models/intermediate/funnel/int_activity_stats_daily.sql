{#-
  Activities per business day (of due_to), activity type and deal (incremental, window delete + insert over the window).

  Grain: date_day x activity_type x deal_id. As in int_deal_stats_daily, a row depends only on the activities
  of its own day, and int_activity_stats_monthly counts distinct deals per month from these rows. Overdue flags
  depend on source_dt and live in activity_volume_daily.
-#}
-- depends_on: {{ ref('int_deal_regions_resolved') }}
{{ funnel_windowed_config(['date_day', 'activity_type', 'deal_id'], 'date_day', 'day') }}

with

activities as (

    select
        deal_id,
        activity_type,
        is_done,
        {{ to_business_date('due_at') }} as due_date
    from {{ ref('stg_pipedrive__activities') }}
    where
        {{ window_filter_at('due_at', 'day') }}
        and {{ pipedrive_in_region_scope('deal_id', 'owner_user_id') }}

),

activity_types as (

    {{ funnel_activity_type_steps(['activity_type', 'activity_type_name']) }}

),

final as (

    select
        activities.due_date as date_day,
        activities.activity_type,
        activities.deal_id,
        max(activity_types.activity_type_name) as activity_type_name,
        max(activity_types.funnel_step) as funnel_step,
        count(*) as activities_count,
        count(*) filter (where activities.is_done) as done_activities_count
    from activities
    left join activity_types
        on activities.activity_type = activity_types.activity_type
    group by
        activities.due_date,
        activities.activity_type,
        activities.deal_id

)

select * from final
