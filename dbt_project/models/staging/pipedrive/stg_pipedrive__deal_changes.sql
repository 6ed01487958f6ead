{#-
  The deal change log, typed: one row per distinct change (deal, instant, field, value). Of exact copies
  (identical after trimming) the first is staged, with the count of copies (base_pipedrive__deal_changes).

  deal_episode: a deal id whose log has several add_time values carries several deals (an id reused by the
  export; stg_pipedrive__identity_collisions lists them), whose histories interleave. Each creation is an
  episode (1, 2, ... by add_time) and each change belongs to one: the episode whose creation has the same time
  of day (UTC) as the change (the export writes a deal's changes at its creation's time of day plus whole
  days: true of every change of the real export), among those the latest created at or before the change;
  with no such creation, the latest created at or before it, else episode 1. Every other deal is episode 1.

  Keyed by deal: a run rebuilds the deals whose raw changes a new load brought (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(
    key='deal_id', source='pipedrive', changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}]
) }}

with

staged as (

    {{ staged_rows(
        ref('base_pipedrive__deal_changes'),
        [
            'deal_id', 'changed_field_key', 'new_value', 'stage_id', 'user_id', 'lost_reason_id', 'deal_value',
            'deal_status', 'added_at', 'changed_at', 'source_rows_count',
        ],
        where=keyed_filter('deal_id'),
    ) }}

),

add_times as (

    select distinct
        deal_id,
        added_at
    from staged
    where changed_field_key = 'add_time' and added_at is not null

),

episodes as (

    select
        deal_id,
        added_at,
        row_number() over (partition by deal_id order by added_at) as deal_episode,
        count(*) over (partition by deal_id) as episodes_count
    from add_times

),

episode_choices as (

    -- only the few ids with several creations: each change picks its episode by the rule above
    select
        staged.deal_id,
        staged.changed_at,
        staged.changed_field_key,
        staged.new_value,
        (array_agg(
            episodes.deal_episode order by
                cast(staged.changed_at at time zone 'UTC' as time)
                = cast(episodes.added_at at time zone 'UTC' as time) desc,
                episodes.added_at <= staged.changed_at desc,
                case when episodes.added_at <= staged.changed_at then episodes.added_at end desc nulls last,
                episodes.deal_episode asc
        ))[1] as deal_episode
    from staged
    inner join episodes
        on
            staged.deal_id = episodes.deal_id
            and episodes.episodes_count > 1
    group by
        staged.deal_id,
        staged.changed_at,
        staged.changed_field_key,
        staged.new_value

),

with_episode as (

    select
        staged.deal_id,
        staged.changed_field_key,
        staged.new_value,
        staged.stage_id,
        staged.user_id,
        staged.lost_reason_id,
        staged.deal_value,
        staged.deal_status,
        staged.added_at,
        staged.changed_at,
        staged.source_rows_count,
        {{ loader_lineage('staged') }},
        coalesce(episode_choices.deal_episode, 1) as deal_episode
    from staged
    left join episode_choices
        on
            staged.deal_id = episode_choices.deal_id
            and staged.changed_at = episode_choices.changed_at
            and staged.changed_field_key is not distinct from episode_choices.changed_field_key
            and staged.new_value is not distinct from episode_choices.new_value

),

final as (

    select
        {{ crm_surrogate_key(['deal_id', 'extract(epoch from changed_at)', 'changed_field_key', 'new_value']) }}
            as deal_change_id,
        deal_id,
        deal_episode,
        stage_id,
        user_id,
        lost_reason_id,
        changed_field_key,
        new_value,
        deal_status,
        deal_value,
        source_rows_count,
        source_rows_count > 1 as is_collapsed_duplicate,
        added_at,
        changed_at,
        {{ loader_lineage() }}
    from with_episode

)

select * from final
