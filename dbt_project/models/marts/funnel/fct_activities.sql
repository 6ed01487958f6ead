{#-
  One row per distinct activity (activity_sk; Pipedrive's activity_id is reused), with its type, funnel step,
  owner, deal, completion, whether it is overdue at the end of source_dt (not done and due before source_dt),
  whether its deal is in the change log by then, and the compliance columns (region of the deal as
  int_deal_regions_resolved decides it when the deal is in the change log and in the region scope, else looked
  up for the deal / the activity's owner; consent of the deal; retention of the 'activities' family).
  Keyed by activity id (macros/incremental_keys.sql; an id can stand for several activities): a run rebuilds
  the ids a load brought, those that fell due since the last run (overdue), and the activities of the deals
  whose row int_deal_regions_resolved changed (a deal that enters the change log, a new owner or region). A
  stage change of a known deal does not reach this table.
-#}
{{ keyed_incremental(
    key='activity_id',
    source='pipedrive',
    changes=[{'model': 'base_pipedrive__activities', 'key': 'activity_id'}],
    events=[{'model': 'stg_pipedrive__activities', 'key': 'activity_id', 'at': 'due_at'}],
    parents=[{
        'model': 'int_deal_regions_resolved', 'column': 'deal_id', 'type': 'bigint',
        'through': ['stg_pipedrive__activities', 'deal_id', 'activity_id'],
    }],
    log=['due_date'],
) }}

with

activities as (

    select
        activity_sk,
        activity_id,
        deal_id,
        owner_user_id,
        activity_type_id,
        activity_type,
        activity_type_name,
        funnel_step,
        is_done,
        is_activity_id_reused,
        due_at,
        due_date
    from {{ ref('int_activities_joined') }}
    where {{ keyed_filter('activity_id', lookup=true) }}

),

-- a deal of the change log as of source_dt (int_deals_consolidated's deals, before the region scope)
deals as (

    select
        deal_id,
        region,
        {{ in_region_scope('region') }} as is_in_region_scope
    from {{ ref('int_deal_regions_resolved') }}

),

joined as (

    select
        activities.activity_sk,
        activities.activity_id,
        activities.deal_id,
        activities.owner_user_id,
        activities.activity_type_id,
        activities.activity_type,
        activities.activity_type_name,
        activities.funnel_step,
        coalesce(
            case when deals.is_in_region_scope then deals.region end,
            {{ compliance_region('pipedrive', [
                ['deal', 'activities.deal_id'],
                ['user', 'activities.owner_user_id'],
            ]) }}
        ) as region,
        {{ compliance_consent('pipedrive', [['deal', 'activities.deal_id']]) }} as gdpr_consent,
        activities.is_done as is_completed,
        not activities.is_done and activities.due_date < {{ as_of_date() }} as is_overdue,
        deals.deal_id is not null as is_deal_in_change_log,
        activities.is_activity_id_reused,
        activities.due_at,
        activities.due_date
    from activities
    left join deals
        on activities.deal_id = deals.deal_id

),

final as (

    select
        joined.activity_sk,
        joined.activity_id,
        joined.deal_id,
        joined.owner_user_id,
        joined.activity_type_id,
        joined.activity_type,
        joined.activity_type_name,
        joined.funnel_step,
        joined.region,
        joined.gdpr_consent,
        joined.is_completed,
        joined.is_overdue,
        joined.is_deal_in_change_log,
        joined.is_activity_id_reused,
        joined.due_at,
        joined.due_date,
        {{ compliance_retention_date('joined.region', 'activities', 'joined.due_date') }} as data_retention_date
    from joined

)

select * from final
