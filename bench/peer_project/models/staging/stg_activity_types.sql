select
    cast(id as integer) as activity_type_id,
    name as activity_type_name,
    type as activity_type
from {{ source('pipedrive', 'activity_types') }}
