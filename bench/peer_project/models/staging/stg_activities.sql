-- One row per raw activity line, typed. A view: every reader re-casts the raw text.
select
    cast(activity_id as bigint) as activity_id,
    type as activity_type,
    cast(assigned_to_user as bigint) as user_id,
    cast(deal_id as bigint) as deal_id,
    lower(done) in ('true', 'yes', 'y', 't', '1') as is_done,
    cast(due_to as timestamp) as due_at
from {{ source('pipedrive', 'activity') }}
