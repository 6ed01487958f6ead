{#-
  Ids that stand for more than one thing in the export, listed instead of dropped:
  - deal_id_with_several_add_times: a deal id with more than one creation time (two deals' histories under
    one id). deal_id stays the deal's identity downstream (created_at = the earliest add_time).
  - activity_id_reused: an activity id carried by different activities (other deal, type or due time);
    every one is kept, identified by activity_sk.
-#}
with

deal_changes as (

    select
        deal_id,
        added_at
    from {{ ref('stg_pipedrive__deal_changes') }}
    where changed_field_key = 'add_time'

),

activities as (

    select
        activity_id,
        deal_id,
        activity_type,
        due_at
    from {{ ref('stg_pipedrive__activities') }}

),

unioned as (

    select
        'deal_id_with_several_add_times' as collision_type,
        deal_id as colliding_id,
        count(distinct added_at) as occurrences_count,
        min(added_at) as first_at,
        max(added_at) as last_at,
        'add_time: ' || string_agg(
            distinct to_char(added_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'), ', '
        ) as details
    from deal_changes
    group by deal_id
    having count(distinct added_at) > 1
    union all
    select
        'activity_id_reused' as collision_type,
        activity_id as colliding_id,
        count(*) as occurrences_count,
        min(due_at) as first_at,
        max(due_at) as last_at,
        'deal_id/type: ' || string_agg(
            deal_id || '/' || activity_type, ', ' order by due_at, deal_id, activity_type
        ) as details
    from activities
    group by activity_id
    having count(*) > 1

),

final as (

    select
        {{ crm_surrogate_key(['collision_type', 'colliding_id']) }} as collision_id,
        collision_type,
        colliding_id,
        occurrences_count,
        first_at,
        last_at,
        details
    from unioned

)

select * from final
