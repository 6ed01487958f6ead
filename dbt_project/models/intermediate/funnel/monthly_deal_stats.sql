{#-
  Stage entries per business month and stage, rolled up from daily_deal_stats (incremental, delete+insert of
  every month the window touches, recomputed from all daily rows of those months so it equals a full refresh).
  deals_entered_count / deals_reached_step_count are distinct deals in the month (sums of the daily
  first-in-month counts).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['date_month', 'stage_id'],
    pre_hook="{{ delete_window('date_month', 'month') }}",
    on_schema_change='fail',
) }}

with

daily as (

    select
        date_day,
        stage_id,
        funnel_step,
        stage_entries_count,
        deals_first_entered_in_month_count,
        deals_first_reached_step_in_month_count
    from {{ ref('daily_deal_stats') }}
    where {{ window_filter('date_day', 'month') }}

),

final as (

    select
        {{ crm_month_start('date_day') }} as date_month,
        stage_id,
        max(funnel_step) as funnel_step,
        cast(sum(stage_entries_count) as bigint) as stage_entries_count,
        cast(sum(deals_first_entered_in_month_count) as bigint) as deals_entered_count,
        cast(sum(deals_first_reached_step_in_month_count) as bigint) as deals_reached_step_count,
        cast(count(*) as integer) as active_days_count
    from daily
    group by
        {{ crm_month_start('date_day') }},
        stage_id

)

select
    date_month,
    stage_id,
    funnel_step,
    stage_entries_count,
    deals_entered_count,
    deals_reached_step_count,
    active_days_count
from final
