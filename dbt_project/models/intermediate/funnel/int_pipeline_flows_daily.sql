{#-
  What pipeline_velocity_daily adds up, per business day: per region and stage, the entries into the stage,
  the entries that left it (with their days in it), the change in open entries (+1 on entry, -1 when the entry
  is left or its deal closes) and the deals that closed in it; per region (stage_id null), the deals that
  closed, whatever their stage, with the sums behind win rate, deal value and cycle. Only days with a flow
  have rows; the mart lays the complete day x region x stage grid over them and computes the running and
  trailing figures when it is built (their cost is the grid's, not the history's).
  Keyed by day (macros/incremental_keys.sql): a run rebuilds the days that the stage entries and deals its
  parents rewrote fall on, before and after the rewrite (entry, exit and close days).
-#}
{%- set left_day = to_business_date('left_at') %}
{%- set closed_day = to_business_date('closed_at') %}
{{ keyed_incremental(
    key='date_day',
    source='pipedrive',
    parents=[
        {'model': 'int_deal_stages_sequenced', 'column': 'entered_date', 'type': 'date'},
        {
            'model': 'int_deal_stages_sequenced', 'column': 'left_at', 'type': 'timestamptz',
            'key': to_business_date('logged_value'),
        },
        {
            'model': 'int_deal_stages_sequenced', 'column': 'deal_id', 'type': 'bigint',
            'through': ['int_deals_consolidated', 'deal_id', closed_day],
        },
        {
            'model': 'int_deals_consolidated', 'column': 'closed_at', 'type': 'timestamptz',
            'key': to_business_date('logged_value'),
        },
        {
            'model': 'int_deals_consolidated', 'column': 'deal_id', 'type': 'bigint',
            'through': ['int_deals_consolidated', 'deal_id', closed_day],
        },
        {
            'model': 'int_deals_consolidated', 'column': 'deal_id', 'type': 'bigint',
            'through': ['int_deal_stages_sequenced', 'deal_id', 'entered_date'],
        },
        {
            'model': 'int_deals_consolidated', 'column': 'deal_id', 'type': 'bigint',
            'through': ['int_deal_stages_sequenced', 'deal_id', left_day],
        },
    ],
) }}
{#- the affected days are computed once (affected_keys) and cut every input -#}
with

{{ keyed_affected_keys_cte('date') }}

-- not materialized: read twice, and cut by the affected days in each reader
deals as not materialized (

    select
        deal_id,
        deal_episode,
        region,
        deal_value,
        sales_cycle_days,
        is_won,
        is_lost,
        closed_at,
        {{ closed_day }} as closed_date
    from {{ ref('int_deals_consolidated') }}

),

closed_on_affected_days as (

    select
        deal_id,
        deal_episode,
        region,
        deal_value,
        sales_cycle_days,
        is_won,
        is_lost,
        closed_at,
        closed_date
    from deals
    where closed_at is not null and {{ keyed_in_affected_keys('closed_date') }}

),

stage_entries as not materialized (

    select
        deal_id,
        deal_episode,
        stage_id,
        stage_entry_number,
        days_in_stage,
        entered_at,
        left_at,
        entered_date,
        {{ left_day }} as left_date
    from {{ ref('int_deal_stages_sequenced') }}

),

entries_on_affected_days as (

    -- an entry is open until it is left or its deal closes: its days are its entry, exit and close days
    select
        stage_entries.deal_id,
        stage_entries.stage_id,
        deals.region,
        deals.deal_value,
        stage_entries.days_in_stage,
        stage_entries.entered_date,
        stage_entries.left_date,
        {{ to_business_date('least(stage_entries.left_at, deals.closed_at)') }} as open_until_date
    from stage_entries
    inner join deals
        on {{ funnel_join_keys('stage_entries', 'deals', ['deal_id', 'deal_episode']) }}
    where
        {{ keyed_in_affected_keys('stage_entries.entered_date') }}
        or {{ keyed_in_affected_keys('stage_entries.left_date') }}
        or stage_entries.deal_id in (select closed_on_affected_days.deal_id from closed_on_affected_days)

),

stage_events as (

    select
        entered_date as date_day,
        region,
        stage_id,
        1 as transitions_in_count,
        deal_value as value_in,
        0 as transitions_out_count,
        cast(null as numeric) as days_in_stage_left,
        case when open_until_date is null or open_until_date > entered_date then 1 else 0 end as open_change
    from entries_on_affected_days
    where {{ keyed_in_affected_keys('entered_date') }}
    union all
    -- entries that ended (the deal moved to another stage or was lost), on the stage left and the day it left
    select
        left_date as date_day,
        region,
        stage_id,
        0 as transitions_in_count,
        cast(null as numeric) as value_in,
        1 as transitions_out_count,
        days_in_stage as days_in_stage_left,
        0 as open_change
    from entries_on_affected_days
    where left_date <= {{ as_of_date() }} and {{ keyed_in_affected_keys('left_date') }}
    union all
    select
        open_until_date as date_day,
        region,
        stage_id,
        0 as transitions_in_count,
        cast(null as numeric) as value_in,
        0 as transitions_out_count,
        cast(null as numeric) as days_in_stage_left,
        -1 as open_change
    from entries_on_affected_days
    where open_until_date > entered_date and {{ keyed_in_affected_keys('open_until_date') }}

),

closed_stage as (

    -- the stage a closed deal was in when it closed: its latest entry at or before the close
    select
        closed_on_affected_days.deal_id,
        closed_on_affected_days.region,
        closed_on_affected_days.deal_value,
        closed_on_affected_days.is_won,
        closed_on_affected_days.is_lost,
        closed_on_affected_days.closed_date,
        (
            array_agg(
                stage_entries.stage_id order by stage_entries.entered_at desc, stage_entries.stage_entry_number desc
            )
        )[1] as stage_id
    from closed_on_affected_days
    inner join stage_entries
        on
            closed_on_affected_days.deal_id = stage_entries.deal_id
            and closed_on_affected_days.deal_episode = stage_entries.deal_episode
            and closed_on_affected_days.closed_at >= stage_entries.entered_at
    group by
        closed_on_affected_days.deal_id,
        closed_on_affected_days.deal_episode,
        closed_on_affected_days.region,
        closed_on_affected_days.deal_value,
        closed_on_affected_days.is_won,
        closed_on_affected_days.is_lost,
        closed_on_affected_days.closed_date

),

stage_flows as (

    select
        date_day,
        region,
        stage_id,
        sum(transitions_in_count) as transitions_in_count,
        sum(value_in) as value_in,
        sum(transitions_out_count) as transitions_out_count,
        sum(days_in_stage_left) as days_in_stage_left_sum,
        sum(open_change) as open_change
    from stage_events
    group by
        date_day,
        region,
        stage_id

),

stage_closes as (

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

stage_rows as (

    select
        stage_flows.value_in,
        stage_flows.days_in_stage_left_sum,
        stage_closes.won_value,
        stage_closes.lost_value,
        0 as won_with_value_count,
        0 as won_cycle_days_sum,
        coalesce(stage_flows.date_day, stage_closes.date_day) as date_day,
        coalesce(stage_flows.region, stage_closes.region) as region,
        coalesce(stage_flows.stage_id, stage_closes.stage_id) as stage_id,
        coalesce(stage_flows.transitions_in_count, 0) as transitions_in_count,
        coalesce(stage_flows.transitions_out_count, 0) as transitions_out_count,
        coalesce(stage_flows.open_change, 0) as open_change,
        coalesce(stage_closes.won_count, 0) as won_count,
        coalesce(stage_closes.lost_count, 0) as lost_count
    from stage_flows
    full outer join stage_closes
        on {{ funnel_join_keys('stage_flows', 'stage_closes', ['date_day', 'region', 'stage_id']) }}

),

region_rows as (

    select
        closed_date as date_day,
        region,
        cast(null as bigint) as stage_id,
        0 as transitions_in_count,
        cast(null as numeric) as value_in,
        0 as transitions_out_count,
        cast(null as numeric) as days_in_stage_left_sum,
        0 as open_change,
        count(*) filter (where is_won) as won_count,
        count(*) filter (where is_lost) as lost_count,
        sum(deal_value) filter (where is_won) as won_value,
        sum(deal_value) filter (where is_lost) as lost_value,
        count(deal_value) filter (where is_won) as won_with_value_count,
        sum(sales_cycle_days) filter (where is_won) as won_cycle_days_sum
    from closed_on_affected_days
    group by
        closed_date,
        region

),

unioned as (

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
    from stage_rows
    union all
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
    from region_rows

),

final as (

    select
        date_day,
        region,
        cast(stage_id as bigint) as stage_id,
        cast(transitions_in_count as bigint) as transitions_in_count,
        cast(value_in as numeric) as value_in,
        cast(transitions_out_count as bigint) as transitions_out_count,
        cast(days_in_stage_left_sum as numeric) as days_in_stage_left_sum,
        cast(open_change as bigint) as open_change,
        cast(won_count as bigint) as won_count,
        cast(lost_count as bigint) as lost_count,
        cast(won_value as numeric) as won_value,
        cast(lost_value as numeric) as lost_value,
        cast(won_with_value_count as bigint) as won_with_value_count,
        cast(won_cycle_days_sum as numeric) as won_cycle_days_sum
    from unioned

)

select * from final
