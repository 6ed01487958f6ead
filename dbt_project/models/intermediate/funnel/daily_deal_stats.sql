{#-
  Stage entries per business day and stage (incremental, delete+insert over the run's window).

  Grain: date_day x stage_id, days with at least one entry. Monthly distinct counts cannot double count:
  deals_first_entered_in_month_count counts a deal on the first day of the month it entered the stage, and
  deals_first_reached_step_in_month_count counts a deal on the first day of the month it reached the stage's
  funnel step (credited to the lowest stage id reaching that step that day), so summing the days of a month
  gives distinct deals. Those first-in-month counts need the whole month up to each day, so the source is
  read from the first day of the window's month; rows are written for the window's days only. Values depend
  only on the data and the row's own date, never on source_dt.
-#}
-- depends_on: {{ ref('int_deal_regions_resolved') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['date_day', 'stage_id'],
    pre_hook="{{ delete_window('date_day', 'day') }}",
    on_schema_change='fail',
) }}

with

stage_changes as (

    select
        deal_id,
        stage_id,
        {{ to_business_date('changed_at') }} as changed_date
    from {{ ref('stg_pipedrive__deal_changes') }}
    where
        changed_field_key = 'stage_id'
        and {{ window_filter_at('changed_at', 'month') }}
        and {{ pipedrive_in_region_scope('deal_id', 'null') }}

),

funnel_steps as (

    select
        funnel_step,
        stage_id
    from {{ ref('funnel_steps') }}
    where reached_by = 'stage_change'

),

mapped as (

    select
        stage_changes.deal_id,
        stage_changes.stage_id,
        funnel_steps.funnel_step,
        stage_changes.changed_date,
        {{ crm_month_start('stage_changes.changed_date') }} as changed_month
    from stage_changes
    left join funnel_steps
        on stage_changes.stage_id = funnel_steps.stage_id

),

ranked as (

    select
        deal_id,
        stage_id,
        funnel_step,
        changed_date,
        row_number() over (
            partition by deal_id, stage_id, changed_month
            order by changed_date
        ) as stage_rank_in_month,
        row_number() over (
            partition by deal_id, funnel_step, changed_month
            order by changed_date, stage_id
        ) as step_rank_in_month
    from mapped

),

daily as (

    select
        changed_date as date_day,
        stage_id,
        max(funnel_step) as funnel_step,
        count(*) as stage_entries_count,
        count(distinct deal_id) as deals_entered_count,
        count(*) filter (where stage_rank_in_month = 1) as deals_first_entered_in_month_count,
        count(*) filter (
            where funnel_step is not null and step_rank_in_month = 1
        ) as deals_first_reached_step_in_month_count
    from ranked
    group by
        changed_date,
        stage_id

),

final as (

    select
        date_day,
        stage_id,
        funnel_step,
        stage_entries_count,
        deals_entered_count,
        deals_first_entered_in_month_count,
        deals_first_reached_step_in_month_count
    from daily
    where {{ window_filter('date_day', 'day') }}

)

select
    date_day,
    stage_id,
    funnel_step,
    stage_entries_count,
    deals_entered_count,
    deals_first_entered_in_month_count,
    deals_first_reached_step_in_month_count
from final
