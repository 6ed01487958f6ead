{#-
  Region of every deal of the change log as of the end of source_dt: the deal's own assignment in
  seeds/compliance, else its current owner's (the latest user_id change, ties broken by the change id). The one
  place a deal's region is decided: int_deals_consolidated carries it, and var `regions` scopes every Pipedrive
  model by it (macro pipedrive_in_region_scope). Keyed by deal (macros/incremental_keys.sql): a run rebuilds the
  deals a load or the days since the last run's as-of date changed, and logs the deals whose row changed (a deal
  that enters the change log, a new owner or region) for fct_activities.
-#}
{{ keyed_incremental(
    key='deal_id',
    source='pipedrive',
    changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}],
    events=[{'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'}],
    log=['deal_id'],
) }}

with

deal_changes as (

    select
        deal_id,
        changed_field_key,
        user_id,
        changed_at,
        deal_change_id
    from {{ ref('stg_pipedrive__deal_changes') }}
    where
        changed_at < {{ business_day_end(as_of_date()) }}
        and {{ keyed_filter('deal_id') }}

),

current_owners as (

    select
        deal_id,
        {{ funnel_change_value('user_id', 'user_id') }} as current_owner_user_id
    from deal_changes
    group by deal_id

),

final as (

    select
        deal_id,
        current_owner_user_id,
        {{ compliance_region('pipedrive', [
            ['deal', 'deal_id'],
            ['user', 'current_owner_user_id'],
        ]) }} as region
    from current_owners

)

select * from final
