{#-
  Stages and activity types that map to no funnel step (seed funnel_steps), so a new CRM stage or type is
  seen instead of silently dropped: every stage id of stages.csv, of the stage field's options or of a stage
  change, and every activity type of activity_types.csv or of an activity, that no funnel step names.
  `is_in_lookup` is false for ids/types used by the data but absent from their lookup file.
-#}
with

funnel_steps as (

    select
        stage_id,
        lower(btrim(activity_type_name)) as activity_type_name_key
    from {{ ref('funnel_steps') }}

),

stages as (

    select
        stage_id,
        stage_name
    from {{ ref('stg_pipedrive__stages') }}

),

stage_options as (

    select
        stage_id,
        stage_label
    from {{ ref('stg_pipedrive__stage_options') }}

),

stage_changes as (

    -- the changes to stages no funnel step maps only: a mapped stage is no exception, and counting the deals of
    -- every stage would read and sort the whole change log each day
    select
        deal_changes.stage_id,
        count(*) as events_count,
        count(distinct deal_changes.deal_id) as deals_count,
        min(deal_changes.changed_at) as first_seen_at,
        max(deal_changes.changed_at) as last_seen_at
    from {{ ref('stg_pipedrive__deal_changes') }} as deal_changes
    where
        deal_changes.changed_field_key = 'stage_id'
        and not exists (
            select 1
            from funnel_steps
            where funnel_steps.stage_id = deal_changes.stage_id
        )
    group by deal_changes.stage_id

),

activity_types as (

    select
        activity_type,
        activity_type_name
    from {{ ref('stg_pipedrive__activity_types') }}

),

activities as (

    -- the activities of types no funnel step maps only (as stage_changes)
    select
        activities.activity_type,
        count(*) as events_count,
        count(distinct activities.deal_id) as deals_count,
        min(activities.due_at) as first_seen_at,
        max(activities.due_at) as last_seen_at
    from {{ ref('stg_pipedrive__activities') }} as activities
    where
        not exists (
            select 1
            from activity_types
            inner join funnel_steps
                on lower(activity_types.activity_type_name) = funnel_steps.activity_type_name_key
            where activity_types.activity_type = activities.activity_type
        )
    group by activities.activity_type

),

all_stages as (

    select stage_id from stages
    union
    select stage_id from stage_options
    union
    select stage_id from stage_changes

),

unmapped_stages as (

    select
        'stage' as source_kind,
        stage_changes.first_seen_at,
        stage_changes.last_seen_at,
        cast(all_stages.stage_id as text) as source_key,
        coalesce(stages.stage_name, stage_options.stage_label) as source_name,
        stages.stage_id is not null as is_in_lookup,
        coalesce(stage_changes.events_count, 0) as events_count,
        coalesce(stage_changes.deals_count, 0) as deals_count
    from all_stages
    left join stages
        on all_stages.stage_id = stages.stage_id
    left join stage_options
        on all_stages.stage_id = stage_options.stage_id
    left join stage_changes
        on all_stages.stage_id = stage_changes.stage_id
    where not exists (
        select 1
        from funnel_steps
        where funnel_steps.stage_id = all_stages.stage_id
    )

),

all_activity_types as (

    select activity_type from activity_types
    union
    select activity_type from activities

),

unmapped_activity_types as (

    select
        'activity_type' as source_kind,
        activities.first_seen_at,
        activities.last_seen_at,
        all_activity_types.activity_type as source_key,
        activity_types.activity_type_name as source_name,
        activity_types.activity_type is not null as is_in_lookup,
        coalesce(activities.events_count, 0) as events_count,
        coalesce(activities.deals_count, 0) as deals_count
    from all_activity_types
    left join activity_types
        on all_activity_types.activity_type = activity_types.activity_type
    left join activities
        on all_activity_types.activity_type = activities.activity_type
    where not exists (
        select 1
        from funnel_steps
        where funnel_steps.activity_type_name_key = lower(activity_types.activity_type_name)
    )

),

unioned as (

    select
        source_kind,
        source_key,
        source_name,
        is_in_lookup,
        events_count,
        deals_count,
        first_seen_at,
        last_seen_at
    from unmapped_stages
    union all
    select
        source_kind,
        source_key,
        source_name,
        is_in_lookup,
        events_count,
        deals_count,
        first_seen_at,
        last_seen_at
    from unmapped_activity_types

),

final as (

    select
        {{ crm_surrogate_key(['source_kind', 'source_key']) }} as funnel_step_exception_id,
        source_kind,
        source_key,
        source_name,
        cast(events_count as bigint) as events_count,
        cast(deals_count as bigint) as deals_count,
        is_in_lookup,
        first_seen_at,
        last_seen_at
    from unioned

)

select * from final
