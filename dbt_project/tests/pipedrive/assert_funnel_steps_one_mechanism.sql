-- Each funnel step is reached one way only (a stage, or an activity type name), and no stage or activity
-- type reaches two steps: otherwise monthly distinct counts could count a deal twice.
with

funnel_steps as (

    select
        funnel_step,
        reached_by,
        stage_id,
        activity_type_name
    from {{ ref('funnel_steps') }}

),

bad_rows as (

    select funnel_step
    from funnel_steps
    where
        not (
            (reached_by = 'stage_change' and stage_id is not null and activity_type_name is null)
            or (reached_by = 'done_activity' and stage_id is null and activity_type_name is not null)
        )

),

shared_stages as (

    select min(funnel_step) as funnel_step
    from funnel_steps
    where stage_id is not null
    group by stage_id
    having count(*) > 1

),

shared_types as (

    select min(funnel_step) as funnel_step
    from funnel_steps
    where activity_type_name is not null
    group by lower(btrim(activity_type_name))
    having count(*) > 1

)

select funnel_step from bad_rows
union all
select funnel_step from shared_stages
union all
select funnel_step from shared_types
