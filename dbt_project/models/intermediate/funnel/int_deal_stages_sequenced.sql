{#-
  Stage timeline per deal episode (deal_id, deal_episode: an id reused for two deals is two timelines, see
  stg_pipedrive__deal_changes): one row per entry into a stage (every stage_id change up to the end of
  source_dt), in order. Re-entries, backward moves and skipped stages are rows like any other and are flagged; the owner
  at that moment is the latest user_id change at or before the entry (a simultaneous reassignment counts).
  An entry is left at the next entry, or when the deal is lost after entering it; the current entry of a deal
  that is not lost is open (its current age is computed when read: int_deal_stages_aged).
  Keyed by deal (macros/incremental_keys.sql): a run rebuilds the deals a load or the days since the last run's
  as-of date changed.
-#}
-- depends_on: {{ ref('int_deal_regions_resolved') }}
{{ keyed_incremental(
    key='deal_id',
    source='pipedrive',
    changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}],
    events=[{'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'}],
    log=['entered_date', 'left_at', 'deal_id'],
) }}

with

deal_changes as (

    select
        deal_change_id,
        deal_id,
        deal_episode,
        changed_field_key,
        stage_id,
        user_id,
        changed_at,
        -- each user_id change opens a group; every later change belongs to it until the next reassignment
        count(user_id) over (
            partition by deal_id, deal_episode
            order by changed_at, case when changed_field_key = 'user_id' then 0 else 1 end, deal_change_id
            rows between unbounded preceding and current row
        ) as owner_group
    from {{ ref('stg_pipedrive__deal_changes') }}
    where
        changed_field_key in ('stage_id', 'user_id')
        and changed_at < {{ business_day_end(as_of_date()) }}
        and {{ keyed_filter('deal_id') }}
        and {{ pipedrive_in_region_scope('deal_id', 'null') }}

),

lost_changes as (

    select
        deal_id,
        deal_episode,
        max(changed_at) as lost_at
    from {{ ref('stg_pipedrive__deal_changes') }}
    where
        changed_field_key = 'lost_reason'
        and changed_at < {{ business_day_end(as_of_date()) }}
        and {{ keyed_filter('deal_id') }}
        and {{ pipedrive_in_region_scope('deal_id', 'null') }}
    group by
        deal_id,
        deal_episode

),

with_owner as (

    select
        deal_change_id,
        deal_id,
        deal_episode,
        changed_field_key,
        stage_id,
        changed_at,
        max(user_id) over (partition by deal_id, deal_episode, owner_group) as owner_user_id
    from deal_changes

),

sequenced as (

    -- the stage entries (the where is applied before the windows), each with its owner
    select
        deal_change_id,
        deal_id,
        deal_episode,
        stage_id,
        owner_user_id,
        changed_at as entered_at,
        row_number() over deal_order as stage_entry_number,
        lag(stage_id) over deal_order as previous_stage_id,
        lag(changed_at) over deal_order as previous_stage_entered_at,
        lead(changed_at) over deal_order as next_stage_entered_at,
        count(*) over (
            partition by deal_id, deal_episode, stage_id
            order by changed_at, deal_change_id
            rows between unbounded preceding and current row
        ) as stage_visit_number
    from with_owner
    where changed_field_key = 'stage_id'
    window deal_order as (partition by deal_id, deal_episode order by changed_at, stage_id, deal_change_id)

),

with_exit as (

    select
        sequenced.deal_change_id,
        sequenced.deal_id,
        sequenced.deal_episode,
        sequenced.stage_id,
        sequenced.previous_stage_id,
        sequenced.owner_user_id,
        sequenced.stage_entry_number,
        sequenced.stage_visit_number,
        sequenced.entered_at,
        sequenced.previous_stage_entered_at,
        coalesce(
            sequenced.next_stage_entered_at,
            case when lost_changes.lost_at >= sequenced.entered_at then lost_changes.lost_at end
        ) as left_at,
        sequenced.next_stage_entered_at is null as is_current_stage,
        lost_changes.lost_at is not null as is_deal_lost
    from sequenced
    left join lost_changes
        on {{ funnel_join_keys('sequenced', 'lost_changes', ['deal_id', 'deal_episode']) }}

),

final as (

    select
        deal_change_id as deal_stage_entry_id,
        deal_id,
        deal_episode,
        stage_id,
        previous_stage_id,
        owner_user_id,
        stage_entry_number,
        stage_visit_number,
        case
            when previous_stage_id is null or stage_id <= previous_stage_id then 0
            else stage_id - previous_stage_id - 1
        end as stages_skipped_count,
        {{ crm_days_between('previous_stage_entered_at', 'entered_at') }} as days_in_previous_stage,
        {{ crm_days_between('entered_at', 'left_at') }} as days_in_stage,
        stage_visit_number > 1 as is_reentry,
        coalesce(stage_id < previous_stage_id, false) as is_backward_move,
        coalesce(stage_id > previous_stage_id + 1, false) as is_skip,
        is_current_stage,
        left_at is null and not is_deal_lost as is_open,
        entered_at,
        previous_stage_entered_at,
        left_at,
        {{ to_business_date('entered_at') }} as entered_date
    from with_exit

)

select * from final
