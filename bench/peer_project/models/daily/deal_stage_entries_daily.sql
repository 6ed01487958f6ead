-- Deals entering each stage per day (UTC days).
select
    cast(change_time as date) as date_day,
    stage_id,
    count(distinct deal_id) as deals_entered,
    count(*) as stage_changes
from {{ ref('stg_deal_changes') }}
where stage_id is not null
group by 1, 2
