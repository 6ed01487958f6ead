{#-
  When the funnel's history starts: the earliest Pipedrive stage change or activity in all of staging, one row
  (none while neither exists). rep_sales_funnel_monthly starts its month grid here rather than at its
  incremental inputs, which a run sees only inside its window: an event landing late with a date before every
  window built (a 1900 typo) must start an incremental run's grid where a full refresh's starts.
  Each min() walks the changed_at / due_at index up to its first matching row instead of scanning the history
  (this view is inlined into the query that reads it).
-#}
with

first_stage_change as (

    select min(changed_at) as first_at
    from {{ ref('stg_pipedrive__deal_changes') }}
    where changed_field_key = 'stage_id'

),

first_activity as (

    select min(due_at) as first_at
    from {{ ref('stg_pipedrive__activities') }}

),

first_events as (

    select first_at
    from first_stage_change
    union all
    select first_at
    from first_activity

),

final as (

    select min(first_at) as first_event_at
    from first_events

)

select first_event_at
from final
where first_event_at is not null
