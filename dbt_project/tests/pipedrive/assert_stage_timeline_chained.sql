-- The stage timeline is a chain: an entry that is not a deal episode's last is left exactly when the next one is
-- entered, and the next entry's previous stage is this entry's stage.
with

entries as (

    select
        deal_id,
        deal_episode,
        stage_id,
        stage_entry_number,
        entered_at,
        left_at,
        lead(entered_at) over (partition by deal_id, deal_episode order by stage_entry_number) as next_entered_at,
        lead(previous_stage_id) over (
            partition by deal_id, deal_episode order by stage_entry_number
        ) as next_previous_stage_id
    from {{ ref('int_deal_stages_sequenced') }}

)

select
    deal_id,
    deal_episode,
    stage_entry_number,
    entered_at,
    left_at,
    next_entered_at
from entries
where
    next_entered_at is not null
    and (left_at is distinct from next_entered_at or next_previous_stage_id is distinct from stage_id)
