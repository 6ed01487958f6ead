-- A win rate of 0% (or 100%) over a year of closed deals means the won/lost rule does not fit the export
-- (seeds pipedrive_stage_probabilities and pipedrive_outcome_rules), not that nobody ever won: warn.
{{ config(severity='warn') }}

with

closed_deals as (

    select
        count(*) as closed_count,
        count(*) filter (where is_won) as won_count,
        count(*) filter (where is_lost) as lost_count
    from {{ ref('int_deals_consolidated') }}
    where
        is_closed
        and closed_at >= {{ business_day_end(ref_date()) }} - interval '365 days'

)

select
    closed_count,
    won_count,
    lost_count
from closed_deals
where closed_count >= 20 and (won_count = 0 or lost_count = 0)
