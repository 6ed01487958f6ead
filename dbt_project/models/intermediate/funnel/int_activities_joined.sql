{#-
  Activities joined to their type (activities.type = activity_types.type) and to the funnel step the type's
  name reaches (seed funnel_steps, case-insensitive), flagged for reused activity ids. Whether the deal is in
  the change log is fct_activities' (as of source_dt, with the deal's region).
-#}
-- depends_on: {{ ref('int_deal_regions_resolved') }}
with

activities as (

    select
        activity_sk,
        activity_id,
        deal_id,
        owner_user_id,
        activity_type,
        is_done,
        due_at
    from {{ ref('stg_pipedrive__activities') }}
    where {{ pipedrive_in_region_scope('deal_id', 'owner_user_id') }}

),

activity_types as (

    {{ funnel_activity_type_steps(['activity_type', 'activity_type_id', 'activity_type_name', 'is_active']) }}

),

final as (

    select
        activities.activity_sk,
        activities.activity_id,
        activities.deal_id,
        activities.owner_user_id,
        activity_types.activity_type_id,
        activities.activity_type,
        activity_types.activity_type_name,
        activity_types.funnel_step,
        activities.is_done,
        activity_types.is_active as is_type_active,
        activity_types.activity_type is not null as is_type_known,
        -- an exists, not a window over activity_id: a reader's filter on deal_id still reaches the indexes
        exists(
            select 1
            from {{ ref('stg_pipedrive__activities') }} as same_id
            where
                same_id.activity_id = activities.activity_id
                and same_id.activity_sk <> activities.activity_sk
        ) as is_activity_id_reused,
        activities.due_at,
        {{ to_business_date('activities.due_at') }} as due_date
    from activities
    left join activity_types
        on activities.activity_type = activity_types.activity_type

)

select * from final
