{#-
  One row per deal and funnel step the deal reached: steps 1-9 by entering the mapped stage (change_time, up to
  the end of the as-of date of int_deal_stages_sequenced), steps 2.1 / 3.1 by a done activity of the mapped type
  (due_to, any date: a reader cuts at its as-of date on first_reached_at). Includes deals only known from
  activities (absent from the change log). Feeds the cohort funnel. A view with no as-of date of its own: a
  keyed reader rebuilds only some keys, and a view is rebuilt only when selected.
-#}
with

funnel_steps as (

    select
        funnel_step,
        step_order,
        reached_by,
        stage_id
    from {{ ref('funnel_steps') }}

),

stage_entries as (

    select
        deal_id,
        stage_id,
        entered_at
    from {{ ref('int_deal_stages_sequenced') }}

),

done_activities as (

    select
        deal_id,
        funnel_step,
        due_at
    from {{ ref('int_activities_joined') }}
    where
        is_done
        and funnel_step is not null

),

reaches as (

    select
        stage_entries.deal_id,
        funnel_steps.funnel_step,
        stage_entries.entered_at as reached_at
    from stage_entries
    inner join funnel_steps
        on
            stage_entries.stage_id = funnel_steps.stage_id
            and funnel_steps.reached_by = 'stage_change'
    union all
    select
        deal_id,
        funnel_step,
        due_at as reached_at
    from done_activities

),

final as (

    select
        {{ crm_surrogate_key(['reaches.deal_id', 'reaches.funnel_step']) }} as deal_funnel_step_id,
        reaches.deal_id,
        reaches.funnel_step,
        funnel_steps.step_order,
        funnel_steps.reached_by,
        count(*) as reached_count,
        min(reaches.reached_at) as first_reached_at,
        max(reaches.reached_at) as last_reached_at,
        {{ to_business_date('min(reaches.reached_at)') }} as first_reached_date
    from reaches
    inner join funnel_steps
        on reaches.funnel_step = funnel_steps.funnel_step
    group by
        reaches.deal_id,
        reaches.funnel_step,
        funnel_steps.step_order,
        funnel_steps.reached_by

)

select * from final
