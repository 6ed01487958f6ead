{#-
  Stage entries per business month and stage, rolled up from int_deal_stats_daily (incremental, window delete +
  insert of every month the window touches, each recomputed from all the daily rows of that month: the month stays the
  roll-up of its days, also when a backfill re-processes days before others already built).
  deals_entered_count and deals_reached_step_count are distinct deals in the month; a deal reaching a step
  through several stages is credited to the stage of its first day in the month (the lowest stage id that day).
-#}
{{ funnel_windowed_config(['date_month', 'stage_id'], 'date_month', 'month') }}

with

daily as (

    {{ funnel_window_rows(
        ref('int_deal_stats_daily'),
        ['date_day', 'stage_id', 'deal_id', 'funnel_step', 'stage_entries_count'],
        'date_day', 'month', month_of='date_day',
    ) }}

),

{{ funnel_step_credits('stage_id', 'funnel_step is not null') }},

entries as (

    select
        date_month,
        stage_id,
        max(funnel_step) as funnel_step,
        sum(stage_entries_count) as stage_entries_count,
        count(distinct deal_id) as deals_entered_count,
        count(distinct date_day) as active_days_count
    from daily
    group by
        date_month,
        stage_id

),

final as (

    select
        entries.date_month,
        entries.stage_id,
        entries.funnel_step,
        cast(entries.stage_entries_count as bigint) as stage_entries_count,
        cast(entries.deals_entered_count as bigint) as deals_entered_count,
        cast(coalesce(credited.deals_reached_step_count, 0) as bigint) as deals_reached_step_count,
        cast(entries.active_days_count as integer) as active_days_count
    from entries
    left join credited
        on {{ funnel_join_keys('entries', 'credited', ['date_month', 'stage_id']) }}

)

select * from final
