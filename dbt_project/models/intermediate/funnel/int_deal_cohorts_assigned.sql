{#-
  One row per deal id of the change log created on or before the as-of date (its first creation, deal_episode 1):
  its cohort (business month of creation), region and the furthest funnel step it reached by the end of the as-of
  date (step_order of int_deal_funnel_steps_reached; a deal has passed every step before it). What
  funnel_cohort_monthly adds up: a new day changes the rows of the deals it touches, and the cohort table then
  adds up the months of the rows that changed from this table, not from the timelines of all their deals.
  Keyed by deal (macros/incremental_keys.sql): a run rebuilds the deals a load touched (changes, activities) and
  those with a change or an activity due since the last run's as-of date.
-#}
{{ keyed_incremental(
    key='deal_id',
    source='pipedrive',
    changes=[
        {'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'},
        {'model': 'base_pipedrive__activities', 'key': 'deal_id'},
    ],
    events=[
        {'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'},
        {'model': 'stg_pipedrive__activities', 'key': 'deal_id', 'at': 'due_at'},
    ],
    log=['cohort_month'],
) }}

with

deals as (

    -- deal ids, as the funnel counts them: an id reused for two deals is in the cohort of its first creation
    select
        deal_id,
        region,
        created_month
    from {{ ref('int_deals_consolidated') }}
    where
        deal_episode = 1
        and created_month <= {{ as_of_date() }}
        and {{ keyed_filter('deal_id') }}

),

steps_reached as (

    -- a lookup, not a semi-join: the condition reaches into the view's union and grouping
    select
        deal_id,
        step_order
    from {{ ref('int_deal_funnel_steps_reached') }}
    where
        {{ keyed_filter('deal_id', lookup=true) }}
        and first_reached_at < {{ business_day_end(as_of_date()) }}

),

furthest_steps as (

    select
        deal_id,
        max(step_order) as furthest_step_order
    from steps_reached
    group by deal_id

),

final as (

    select
        deals.deal_id,
        deals.created_month as cohort_month,
        deals.region,
        furthest_steps.furthest_step_order
    from deals
    left join furthest_steps
        on deals.deal_id = furthest_steps.deal_id

)

select * from final
