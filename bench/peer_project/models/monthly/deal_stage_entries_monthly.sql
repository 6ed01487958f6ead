-- Deals entering each stage per month. Counted from staging, not summed from the daily table: a deal that
-- enters a stage on two days of a month is one deal of that month.
select
    cast(date_trunc('month', change_time) as date) as month,
    stage_id,
    count(distinct deal_id) as deals_entered,
    count(*) as stage_changes
from {{ ref('stg_deal_changes') }}
where stage_id is not null
group by 1, 2
