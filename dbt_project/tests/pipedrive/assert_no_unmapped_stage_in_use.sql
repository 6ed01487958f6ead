-- A stage that deals enter but that no funnel step maps (a new CRM stage) must be seen: warn.
{{ config(severity='warn') }}

select
    source_key as stage_id,
    source_name,
    events_count,
    deals_count
from {{ ref('funnel_step_exceptions') }}
where
    source_kind = 'stage'
    and events_count > 0
