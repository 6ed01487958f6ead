-- One row per raw change-log line, typed. A view: every reader re-casts the raw text.
select
    cast(deal_id as bigint) as deal_id,
    cast(change_time as timestamp) as change_time,
    changed_field_key,
    new_value,
    case when changed_field_key = 'stage_id' then cast(new_value as integer) end as stage_id
from {{ source('pipedrive', 'deal_changes') }}
