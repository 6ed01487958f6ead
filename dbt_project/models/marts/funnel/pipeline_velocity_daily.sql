{#-
  Pipeline flow and velocity per business day, region and stage, from the first stage entry to source_dt
  (a complete day x region x stage grid). Transitions in, transitions out with the days they spent in the
  stage (reported on the stage left, on the day it was left), value, deals won / lost
  in the stage that day, open deals in the stage at the end of the day, and the classic sales velocity:
    pipeline_velocity = open_deals_count x win_rate_by_count x avg_won_deal_value / avg_sales_cycle_days
  where the win rate, deal value and cycle come from the deals of the region closed in the trailing
  `velocity_lookback_days` (var, default 90) ending that day. Definitions: docs/funnel.md.
-#}
{%- set lookback_days = var('velocity_lookback_days', 90) | int %}

with

stage_entries as (

    select
        deal_id,
        deal_episode,
        stage_id,
        stage_entry_number,
        days_in_stage,
        entered_at,
        left_at,
        entered_date
    from {{ ref('int_deal_stages_sequenced') }}

),

deals as (

    select
        deal_id,
        deal_episode,
        region,
        deal_value,
        sales_cycle_days,
        is_won,
        is_lost,
        closed_at
    from {{ ref('int_deals_consolidated') }}

),

stages as (

    select stage_id
    from {{ ref('int_stages_selected') }}
    union
    select stage_id
    from stage_entries

),

stage_names as (

    select
        stage_id,
        stage_name
    from {{ ref('int_stages_selected') }}

),

regions as (

    select distinct region
    from deals

),

days as (

    select cast(day_start as date) as date_day
    from generate_series(
        cast((select min(entered_date) from stage_entries) as timestamp),
        cast({{ as_of_date() }} as timestamp),
        interval '1 day'
    ) as day_start

),

grid as (

    select
        days.date_day,
        regions.region,
        stages.stage_id
    from days
    cross join regions
    cross join stages

),

entries_with_deal as (

    select
        stage_entries.deal_id,
        stage_entries.stage_id,
        deals.region,
        deals.deal_value,
        stage_entries.days_in_stage,
        stage_entries.entered_date,
        {{ to_business_date('stage_entries.left_at') }} as left_date,
        -- the entry stops counting as open when the deal leaves the stage or closes, whichever comes first
        {{ to_business_date('least(stage_entries.left_at, deals.closed_at)') }} as open_until_date
    from stage_entries
    inner join deals
        on {{ funnel_join_keys('stage_entries', 'deals', ['deal_id', 'deal_episode']) }}

),

transitions_in as (

    select
        entered_date as date_day,
        region,
        stage_id,
        count(*) as transitions_in_count,
        sum(deal_value) as value_in
    from entries_with_deal
    group by
        entered_date,
        region,
        stage_id

),

transitions_out as (

    -- entries that ended (the deal moved to another stage or was lost), on the stage left and the day it left
    select
        left_date as date_day,
        region,
        stage_id,
        count(*) as transitions_out_count,
        sum(days_in_stage) as days_in_stage_left_sum
    from entries_with_deal
    where left_date is not null and left_date <= {{ as_of_date() }}
    group by
        left_date,
        region,
        stage_id

),

open_deltas as (

    select
        entered_date as date_day,
        region,
        stage_id,
        1 as delta
    from entries_with_deal
    where open_until_date is null or open_until_date > entered_date
    union all
    select
        open_until_date as date_day,
        region,
        stage_id,
        -1 as delta
    from entries_with_deal
    where open_until_date > entered_date

),

open_changes as (

    select
        date_day,
        region,
        stage_id,
        sum(delta) as open_change
    from open_deltas
    group by
        date_day,
        region,
        stage_id

),

closed_stage as (

    -- the stage a closed deal was in when it closed: its latest entry at or before the close
    select
        deals.deal_id,
        deals.region,
        deals.deal_value,
        deals.sales_cycle_days,
        deals.is_won,
        deals.is_lost,
        {{ to_business_date('deals.closed_at') }} as closed_date,
        (
            array_agg(
                stage_entries.stage_id order by stage_entries.entered_at desc, stage_entries.stage_entry_number desc
            )
        )[1] as stage_id
    from deals
    inner join stage_entries
        on
            deals.deal_id = stage_entries.deal_id
            and deals.deal_episode = stage_entries.deal_episode
            and deals.closed_at >= stage_entries.entered_at
    where deals.closed_at is not null
    group by
        deals.deal_id,
        deals.deal_episode,
        deals.region,
        deals.deal_value,
        deals.sales_cycle_days,
        deals.is_won,
        deals.is_lost,
        deals.closed_at

),

closes_by_stage as (

    select
        closed_date as date_day,
        region,
        stage_id,
        count(*) filter (where is_won) as won_count,
        count(*) filter (where is_lost) as lost_count,
        sum(deal_value) filter (where is_won) as won_value,
        sum(deal_value) filter (where is_lost) as lost_value
    from closed_stage
    group by
        closed_date,
        region,
        stage_id

),

closes_by_region as (

    select
        {{ to_business_date('closed_at') }} as date_day,
        region,
        count(*) filter (where is_won) as won_count,
        count(*) filter (where is_lost) as lost_count,
        sum(deal_value) filter (where is_won) as won_value,
        sum(deal_value) filter (where is_lost) as lost_value,
        count(deal_value) filter (where is_won) as won_with_value_count,
        sum(sales_cycle_days) filter (where is_won) as won_cycle_days_sum
    from deals
    where closed_at is not null
    group by
        {{ to_business_date('closed_at') }},
        region

),

region_days as (

    select
        days.date_day,
        regions.region,
        coalesce(closes_by_region.won_count, 0) as won_count,
        coalesce(closes_by_region.lost_count, 0) as lost_count,
        coalesce(closes_by_region.won_value, 0) as won_value,
        coalesce(closes_by_region.lost_value, 0) as lost_value,
        coalesce(closes_by_region.won_with_value_count, 0) as won_with_value_count,
        coalesce(closes_by_region.won_cycle_days_sum, 0) as won_cycle_days_sum
    from days
    cross join regions
    left join closes_by_region
        on
            days.date_day = closes_by_region.date_day
            and regions.region = closes_by_region.region

),

lookback as (

    select
        date_day,
        region,
        sum(won_count) over trailing_days as lookback_won_count,
        sum(lost_count) over trailing_days as lookback_lost_count,
        sum(won_value) over trailing_days as lookback_won_value,
        sum(lost_value) over trailing_days as lookback_lost_value,
        sum(won_with_value_count) over trailing_days as lookback_won_with_value_count,
        sum(won_cycle_days_sum) over trailing_days as lookback_won_cycle_days_sum
    from region_days
    window trailing_days as (
        partition by region
        order by date_day
        rows between {{ lookback_days - 1 }} preceding and current row
    )

),

velocity_inputs as (

    select
        date_day,
        region,
        cast(lookback_won_count as bigint) as lookback_won_count,
        cast(lookback_lost_count as bigint) as lookback_lost_count,
        cast(lookback_won_count as numeric)
        / nullif(lookback_won_count + lookback_lost_count, 0) as win_rate_by_count,
        cast(lookback_won_value as numeric)
        / nullif(lookback_won_value + lookback_lost_value, 0) as win_rate_by_value,
        cast(lookback_won_value as numeric) / nullif(lookback_won_with_value_count, 0) as avg_won_deal_value,
        cast(lookback_won_cycle_days_sum as numeric) / nullif(lookback_won_count, 0) as avg_sales_cycle_days
    from lookback

),

joined as (

    select
        grid.date_day,
        grid.region,
        grid.stage_id,
        stage_names.stage_name,
        velocity_inputs.lookback_won_count,
        velocity_inputs.lookback_lost_count,
        transitions_out.days_in_stage_left_sum,
        transitions_in.value_in,
        closes_by_stage.won_value,
        closes_by_stage.lost_value,
        velocity_inputs.win_rate_by_count,
        velocity_inputs.win_rate_by_value,
        velocity_inputs.avg_won_deal_value,
        velocity_inputs.avg_sales_cycle_days,
        transitions_in.transitions_in_count,
        transitions_out.transitions_out_count,
        closes_by_stage.won_count,
        closes_by_stage.lost_count,
        sum(coalesce(open_changes.open_change, 0)) over (
            partition by grid.region, grid.stage_id
            order by grid.date_day
            rows between unbounded preceding and current row
        ) as open_deals_count
    from grid
    left join stage_names
        on grid.stage_id = stage_names.stage_id
    left join transitions_in
        on {{ funnel_join_keys('grid', 'transitions_in', ['date_day', 'region', 'stage_id']) }}
    left join transitions_out
        on {{ funnel_join_keys('grid', 'transitions_out', ['date_day', 'region', 'stage_id']) }}
    left join open_changes
        on {{ funnel_join_keys('grid', 'open_changes', ['date_day', 'region', 'stage_id']) }}
    left join closes_by_stage
        on {{ funnel_join_keys('grid', 'closes_by_stage', ['date_day', 'region', 'stage_id']) }}
    left join velocity_inputs
        on {{ funnel_join_keys('grid', 'velocity_inputs', ['date_day', 'region']) }}

),

final as (

    select
        date_day,
        region,
        stage_id,
        stage_name,
        cast(coalesce(transitions_in_count, 0) as bigint) as transitions_in_count,
        cast(coalesce(transitions_out_count, 0) as bigint) as transitions_out_count,
        cast(coalesce(won_count, 0) as bigint) as won_count,
        cast(coalesce(lost_count, 0) as bigint) as lost_count,
        cast(open_deals_count as bigint) as open_deals_count,
        lookback_won_count,
        lookback_lost_count,
        cast(days_in_stage_left_sum as numeric) as days_in_stage_left_sum,
        cast(round(days_in_stage_left_sum / nullif(transitions_out_count, 0), 4) as numeric)
            as avg_days_in_stage_left,
        cast(value_in as numeric) as value_in,
        cast(won_value as numeric) as won_value,
        cast(lost_value as numeric) as lost_value,
        cast(round(win_rate_by_count, 4) as numeric) as win_rate_by_count,
        cast(round(win_rate_by_value, 4) as numeric) as win_rate_by_value,
        cast(avg_won_deal_value as numeric) as avg_won_deal_value,
        cast(round(avg_sales_cycle_days, 4) as numeric) as avg_sales_cycle_days,
        cast(
            open_deals_count * win_rate_by_count * avg_won_deal_value / nullif(avg_sales_cycle_days, 0) as numeric
        ) as pipeline_velocity
    from joined

)

select * from final
