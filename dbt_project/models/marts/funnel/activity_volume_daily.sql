{#-
  Activity volume per business day (of due_to), region, activity type and owner: total, completed and overdue
  (not done and due before source_dt) activities. Owners are user ids only: no personal data in marts.
  data_retention_date: the latest of its activities' (a purge that removes them all removes the row).
  Keyed by day (macros/incremental_keys.sql): a run rebuilds the due days of the activities whose rows
  fct_activities changed (new, gone, or a new region, consent, completion or overdue flag), before and after.
-#}
{{ keyed_incremental(
    key='date_day',
    source='pipedrive',
    parents=[{'model': 'fct_activities', 'column': 'due_date', 'type': 'date'}],
) }}

with

activities as (

    select
        owner_user_id,
        activity_type,
        activity_type_name,
        funnel_step,
        region,
        is_completed,
        is_overdue,
        due_date,
        data_retention_date
    from {{ ref('fct_activities') }}
    where {{ keyed_filter('due_date') }}

),

final as (

    select
        due_date as date_day,
        region,
        activity_type,
        owner_user_id,
        max(activity_type_name) as activity_type_name,
        max(funnel_step) as funnel_step,
        count(*) as activities_count,
        count(*) filter (where is_completed) as completed_count,
        count(*) filter (where is_overdue) as overdue_count,
        count(*) filter (where not is_completed and not is_overdue) as pending_count,
        -- kept as long as its longest-kept activity: a purge that removes them all removes the row
        max(data_retention_date) as data_retention_date
    from activities
    group by
        due_date,
        region,
        activity_type,
        owner_user_id

)

select * from final
