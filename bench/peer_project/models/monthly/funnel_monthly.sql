-- The report: deals reaching each funnel step per month. Steps 1-9 are stage entries, 2.1 and 3.1 done
-- sales calls of that type name. Only month x step pairs with a deal (the product's mart shows a full grid).
select
    entries.month,
    steps.kpi_name,
    steps.funnel_step,
    steps.step_order,
    entries.deals_entered as deals_count
from {{ ref('deal_stage_entries_monthly') }} as entries
inner join {{ ref('funnel_steps') }} as steps
    on entries.stage_id = steps.stage_id

union all

select
    calls.month,
    steps.kpi_name,
    steps.funnel_step,
    steps.step_order,
    calls.deals as deals_count
from {{ ref('done_activities_monthly') }} as calls
inner join {{ ref('funnel_steps') }} as steps
    on calls.activity_type_name = steps.activity_type_name
