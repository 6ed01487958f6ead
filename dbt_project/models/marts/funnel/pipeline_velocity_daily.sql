{#-
  Pipeline flow and velocity per business day, region and stage, from the first stage entry to source_dt
  (a complete day x region x stage grid). Transitions in, transitions out with the days they spent in the
  stage (reported on the stage left, on the day it was left), value, deals won / lost
  in the stage that day, open deals in the stage at the end of the day, and the classic sales velocity:
    pipeline_velocity = open_deals_count x win_rate_by_count x avg_won_deal_value / avg_sales_cycle_days
  where the win rate, deal value and cycle come from the deals of the region closed in the trailing
  `velocity_lookback_days` (var, default 90) ending that day. Definitions: docs/funnel.md.
  The day's flows come from int_pipeline_flows_daily (keyed by day); this table lays the grid over them and
  adds up the running open count and the trailing figures, at a cost of the grid (days x regions x stages).
-#}
{%- set lookback_days = var('velocity_lookback_days', 90) | int %}

with

flows as (

    select
        date_day,
        region,
        stage_id,
        transitions_in_count,
        value_in,
        transitions_out_count,
        days_in_stage_left_sum,
        open_change,
        won_count,
        lost_count,
        won_value,
        lost_value,
        won_with_value_count,
        won_cycle_days_sum
    from {{ ref('int_pipeline_flows_daily') }}
    where date_day <= {{ as_of_date() }}

),

stage_flows as (

    select
        date_day,
        region,
        stage_id,
        transitions_in_count,
        value_in,
        transitions_out_count,
        days_in_stage_left_sum,
        open_change,
        won_count,
        lost_count,
        won_value,
        lost_value
    from flows
    where stage_id is not null

),

stages as (

    select stage_id
    from {{ ref('int_stages_selected') }}
    union
    select stage_id
    from stage_flows

),

stage_names as (

    select
        stage_id,
        stage_name
    from {{ ref('int_stages_selected') }}

),

regions as (

    select distinct region
    from {{ ref('int_deals_consolidated') }}

),

first_entry as (

    select min(date_day) as first_entry_day
    from stage_flows
    where transitions_in_count > 0

),

days as (

    select cast(day_start as date) as date_day
    from generate_series(
        cast((select first_entry.first_entry_day from first_entry) as timestamp),
        cast({{ as_of_date() }} as timestamp),
        interval '1 day'
    ) as day_start

),

region_days as (

    select
        days.date_day,
        regions.region,
        coalesce(flows.won_count, 0) as won_count,
        coalesce(flows.lost_count, 0) as lost_count,
        coalesce(flows.won_value, 0) as won_value,
        coalesce(flows.lost_value, 0) as lost_value,
        coalesce(flows.won_with_value_count, 0) as won_with_value_count,
        coalesce(flows.won_cycle_days_sum, 0) as won_cycle_days_sum
    from days
    cross join regions
    left join flows
        on
            days.date_day = flows.date_day
            and regions.region = flows.region
            and flows.stage_id is null

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

-- the day x region rows carry their trailing figures onto every stage: no join back on the day (a join on
-- day and region that the planner merged on the region alone compared every day with every day)
grid as (

    select
        velocity_inputs.date_day,
        velocity_inputs.region,
        stages.stage_id,
        velocity_inputs.lookback_won_count,
        velocity_inputs.lookback_lost_count,
        velocity_inputs.win_rate_by_count,
        velocity_inputs.win_rate_by_value,
        velocity_inputs.avg_won_deal_value,
        velocity_inputs.avg_sales_cycle_days
    from velocity_inputs
    cross join stages

),

joined as (

    select
        grid.date_day,
        grid.region,
        grid.stage_id,
        stage_names.stage_name,
        grid.lookback_won_count,
        grid.lookback_lost_count,
        stage_flows.days_in_stage_left_sum,
        stage_flows.value_in,
        stage_flows.won_value,
        stage_flows.lost_value,
        grid.win_rate_by_count,
        grid.win_rate_by_value,
        grid.avg_won_deal_value,
        grid.avg_sales_cycle_days,
        stage_flows.transitions_in_count,
        stage_flows.transitions_out_count,
        stage_flows.won_count,
        stage_flows.lost_count,
        sum(coalesce(stage_flows.open_change, 0)) over (
            partition by grid.region, grid.stage_id
            order by grid.date_day
            rows between unbounded preceding and current row
        ) as open_deals_count
    from grid
    left join stage_names
        on grid.stage_id = stage_names.stage_id
    left join stage_flows
        on {{ funnel_join_keys('grid', 'stage_flows', ['date_day', 'region', 'stage_id']) }}

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
