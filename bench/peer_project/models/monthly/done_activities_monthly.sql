-- Done activities per type per month; deals counted from staging (distinct per month, see the stage table).
select
    cast(date_trunc('month', activities.due_at) as date) as month,
    activities.activity_type,
    types.activity_type_name,
    count(*) as activities_done,
    count(distinct activities.deal_id) as deals
from {{ ref('stg_activities') }} as activities
left join {{ ref('stg_activity_types') }} as types
    on activities.activity_type = types.activity_type
where activities.is_done
group by 1, 2, 3
