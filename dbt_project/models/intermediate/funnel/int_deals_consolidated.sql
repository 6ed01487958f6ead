{#-
  One row per deal episode of the change log, as of the end of source_dt: per deal_id, and per creation for
  the few ids that carry several deals (several add_times, see stg_pipedrive__deal_changes and
  stg_pipedrive__identity_collisions); deal_episode_key names the episode ('399956', '399956-2'). Region and
  consent belong to the deal id (the same for all its episodes).
  Status: an explicit `status` change wins; else the deal is won at its first entry into a won stage (seed
  pipedrive_stage_probabilities), unless it has a lost reason after that entry and seed
  pipedrive_outcome_rules says `lost`; else a lost reason makes it lost (at its latest lost_reason change);
  else it is open. A lost reason recorded before the won entry (a deal lost, revived and won) does not count.
-#}
{#- Keyed by deal (macros/incremental_keys.sql): a run rebuilds the deals a load or the days since the last run's
    as-of date changed. -#}
{{ keyed_incremental(
    key='deal_id',
    source='pipedrive',
    changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}],
    events=[{'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'}],
    log=['closed_at', 'deal_id'],
) }}

with

deal_changes as (

    select
        deal_id,
        deal_episode,
        changed_field_key,
        user_id,
        lost_reason_id,
        deal_value,
        deal_status,
        added_at,
        changed_at,
        deal_change_id
    from {{ ref('stg_pipedrive__deal_changes') }}
    where
        changed_at < {{ business_day_end(as_of_date()) }}
        and {{ keyed_filter('deal_id') }}

),

stage_entries as (

    select
        deal_id,
        deal_episode,
        stage_id,
        is_current_stage,
        entered_at
    from {{ ref('int_deal_stages_sequenced') }}
    where {{ keyed_filter('deal_id') }}

),

stage_probabilities as (

    select
        stage_id,
        is_won_stage
    from {{ ref('pipedrive_stage_probabilities') }}

),

deal_regions as (

    select
        deal_id,
        region
    from {{ ref('int_deal_regions_resolved') }}
    where {{ keyed_filter('deal_id') }}

),

outcome_rules as (

    select max(lost_reason_after_won) as lost_reason_after_won
    from {{ ref('pipedrive_outcome_rules') }}

),

lost_reasons as (

    select
        lost_reason_id,
        lost_reason_label
    from {{ ref('stg_pipedrive__lost_reasons') }}

),

deal_facts as (

    -- per deal episode: the first and latest change of each field (ties broken by the change id), as
    -- int_deal_regions_resolved picks the current owner
    select
        deal_id,
        deal_episode,
        min(added_at) as added_at,
        min(changed_at) as first_changed_at,
        count(distinct added_at) as add_times_count,
        count(*) filter (where changed_field_key = 'stage_id') as stage_changes_count,
        {{ funnel_change_value('user_id', 'user_id', 'first') }} as first_owner_user_id,
        {{ funnel_change_value('user_id', 'user_id', 'latest') }} as current_owner_user_id,
        {{ funnel_change_value('lost_reason_id', 'lost_reason', 'latest') }} as lost_reason_id,
        max(changed_at) filter (where changed_field_key = 'lost_reason') as lost_reason_at,
        {{ funnel_change_value('deal_value', 'value', 'latest') }} as deal_value,
        {{ funnel_change_value('deal_status', 'status', 'latest') }} as explicit_status,
        max(changed_at) filter (where changed_field_key = 'status') as explicit_status_at
    from deal_changes
    group by
        deal_id,
        deal_episode

),

current_stages as (

    select
        deal_id,
        deal_episode,
        stage_id as current_stage_id,
        entered_at as current_stage_entered_at
    from stage_entries
    where is_current_stage

),

won_stage_entries as (

    select
        stage_entries.deal_id,
        stage_entries.deal_episode,
        min(stage_entries.entered_at) as first_won_stage_entered_at
    from stage_entries
    inner join stage_probabilities
        on stage_entries.stage_id = stage_probabilities.stage_id
    where stage_probabilities.is_won_stage
    group by
        stage_entries.deal_id,
        stage_entries.deal_episode

),

with_status as (

    select
        deal_facts.deal_id,
        deal_facts.deal_episode,
        current_stages.current_stage_id,
        deal_facts.current_owner_user_id,
        deal_facts.first_owner_user_id,
        deal_facts.lost_reason_id,
        deal_facts.stage_changes_count,
        deal_facts.deal_value,
        deal_facts.explicit_status,
        current_stages.current_stage_entered_at,
        deal_facts.explicit_status_at,
        deal_facts.lost_reason_at,
        won_stage_entries.first_won_stage_entered_at,
        -- the creations of the whole deal id, not of the episode: it flags the reused ids
        sum(deal_facts.add_times_count) over (partition by deal_facts.deal_id) as add_times_count,
        coalesce(deal_facts.lost_reason_at >= won_stage_entries.first_won_stage_entered_at, false)
            as has_lost_reason_after_won,
        coalesce(
            deal_facts.explicit_status,
            case
                when
                    won_stage_entries.first_won_stage_entered_at is not null
                    and (
                        deal_facts.lost_reason_at is null
                        or deal_facts.lost_reason_at < won_stage_entries.first_won_stage_entered_at
                        or outcome_rules.lost_reason_after_won = 'keep_won'
                    )
                    then 'won'
                when deal_facts.lost_reason_id is not null then 'lost'
                else 'open'
            end
        ) as deal_status,
        coalesce(deal_facts.added_at, deal_facts.first_changed_at) as created_at,
        deal_facts.added_at is null as is_created_at_inferred
    from deal_facts
    left join current_stages
        on
            deal_facts.deal_id = current_stages.deal_id
            and deal_facts.deal_episode = current_stages.deal_episode
    left join won_stage_entries
        on
            deal_facts.deal_id = won_stage_entries.deal_id
            and deal_facts.deal_episode = won_stage_entries.deal_episode
    cross join outcome_rules

),

with_close as (

    select
        deal_id,
        deal_episode,
        current_stage_id,
        current_owner_user_id,
        first_owner_user_id,
        lost_reason_id,
        add_times_count,
        stage_changes_count,
        deal_value,
        deal_status,
        has_lost_reason_after_won,
        is_created_at_inferred,
        created_at,
        current_stage_entered_at,
        case
            when deal_status <> 'won' then null
            when explicit_status = 'won' then explicit_status_at
            else first_won_stage_entered_at
        end as won_at,
        case
            when deal_status <> 'lost' then null
            when explicit_status = 'lost' then explicit_status_at
            else lost_reason_at
        end as lost_at
    from with_status

),

final as (

    select
        with_close.deal_id,
        with_close.deal_episode,
        cast(with_close.deal_id as text)
        || case when with_close.deal_episode > 1 then '-' || with_close.deal_episode else '' end
            as deal_episode_key,
        with_close.current_stage_id,
        with_close.current_owner_user_id,
        with_close.first_owner_user_id,
        with_close.lost_reason_id,
        lost_reasons.lost_reason_label,
        with_close.deal_status,
        deal_regions.region,
        {{ compliance_consent('pipedrive', [['deal', 'with_close.deal_id']]) }} as gdpr_consent,
        with_close.add_times_count,
        with_close.stage_changes_count,
        with_close.deal_value,
        {{ crm_days_between('with_close.created_at', 'coalesce(with_close.won_at, with_close.lost_at)') }}
            as sales_cycle_days,
        with_close.add_times_count > 1 as has_add_time_collision,
        with_close.has_lost_reason_after_won,
        with_close.is_created_at_inferred,
        with_close.deal_status = 'won' as is_won,
        with_close.deal_status = 'lost' as is_lost,
        with_close.deal_status in ('won', 'lost') as is_closed,
        with_close.created_at,
        with_close.current_stage_entered_at,
        with_close.won_at,
        with_close.lost_at,
        coalesce(with_close.won_at, with_close.lost_at) as closed_at,
        {{ to_business_date('with_close.created_at') }} as created_date,
        {{ to_business_month('with_close.created_at') }} as created_month
    from with_close
    left join lost_reasons
        on with_close.lost_reason_id = lost_reasons.lost_reason_id
    left join deal_regions
        on with_close.deal_id = deal_regions.deal_id
    where {{ in_region_scope('deal_regions.region') }}

)

select * from final
