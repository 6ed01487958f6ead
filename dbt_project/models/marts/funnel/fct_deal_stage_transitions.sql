{#-
  One row per deal stage transition (every entry into a stage up to the end of source_dt), from the stage
  timeline of each deal episode (deal_episode: an id reused for two deals has two timelines): from/to stage, time in the previous stage, the owner at that moment, value, stage probability
  (seed pipedrive_stage_probabilities) and weighted value, and the compliance columns (region, consent,
  retention: seeds/compliance, safe defaults 'unassigned' / 'unknown').
  Keyed by deal (macros/incremental_keys.sql): a run rebuilds the deals a load or the days since the last run's
  as-of date changed.
-#}
{{ keyed_incremental(
    key='deal_id',
    source='pipedrive',
    changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}],
    events=[{'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'}],
) }}

with

stage_entries as (

    select
        deal_stage_entry_id,
        deal_id,
        deal_episode,
        stage_id,
        previous_stage_id,
        owner_user_id,
        stage_entry_number,
        stages_skipped_count,
        days_in_previous_stage,
        is_reentry,
        is_backward_move,
        is_skip,
        entered_at,
        entered_date
    from {{ ref('int_deal_stages_sequenced') }}
    where {{ keyed_filter('deal_id') }}

),

deals as (

    select
        deal_id,
        deal_episode,
        deal_episode_key,
        region,
        gdpr_consent,
        deal_value
    from {{ ref('int_deals_consolidated') }}
    where {{ keyed_filter('deal_id') }}

),

stages as (

    select
        stage_id,
        stage_name
    from {{ ref('int_stages_selected') }}

),

stage_options as (

    select
        stage_id,
        stage_label
    from {{ ref('int_stage_options_selected') }}

),

stage_probabilities as (

    select
        stage_id,
        stage_probability
    from {{ ref('pipedrive_stage_probabilities') }}

),

funnel_steps as (

    {{ funnel_stage_steps() }}

),

joined as (

    select
        stage_entries.deal_stage_entry_id,
        stage_entries.deal_id,
        stage_entries.deal_episode,
        deals.deal_episode_key,
        stage_entries.previous_stage_id as from_stage_id,
        stage_entries.stage_id as to_stage_id,
        stage_entries.owner_user_id,
        cast(stage_entries.stage_entry_number as integer) as transition_number,
        coalesce(from_stages.stage_name, from_options.stage_label) as from_stage_name,
        coalesce(to_stages.stage_name, to_options.stage_label) as to_stage_name,
        funnel_steps.funnel_step as to_funnel_step,
        coalesce(deals.region, '{{ var("compliance_default_region", "unassigned") }}') as region,
        coalesce(deals.gdpr_consent, '{{ var("compliance_default_consent", "unknown") }}') as gdpr_consent,
        cast(stage_entries.stages_skipped_count as integer) as stages_skipped_count,
        deals.deal_value,
        stage_probabilities.stage_probability,
        stage_entries.days_in_previous_stage,
        stage_entries.is_reentry,
        stage_entries.is_backward_move,
        stage_entries.is_skip,
        stage_entries.entered_at as transition_at,
        stage_entries.entered_date as transition_date
    from stage_entries
    left join deals
        on {{ funnel_join_keys('stage_entries', 'deals', ['deal_id', 'deal_episode']) }}
    left join stages as from_stages
        on stage_entries.previous_stage_id = from_stages.stage_id
    left join stage_options as from_options
        on stage_entries.previous_stage_id = from_options.stage_id
    left join stages as to_stages
        on stage_entries.stage_id = to_stages.stage_id
    left join stage_options as to_options
        on stage_entries.stage_id = to_options.stage_id
    left join stage_probabilities
        on stage_entries.stage_id = stage_probabilities.stage_id
    left join funnel_steps
        on stage_entries.stage_id = funnel_steps.stage_id

),

final as (

    select
        joined.deal_stage_entry_id as deal_stage_transition_id,
        joined.deal_id,
        cast(joined.deal_episode as integer) as deal_episode,
        joined.deal_episode_key,
        joined.from_stage_id,
        joined.to_stage_id,
        joined.owner_user_id,
        joined.transition_number,
        joined.from_stage_name,
        joined.to_stage_name,
        joined.to_funnel_step,
        joined.region,
        joined.gdpr_consent,
        joined.stages_skipped_count,
        -- the contract's types, exactly: an incremental run compares its batch's columns with the table's
        cast(joined.deal_value as numeric(18, 2)) as deal_value,
        cast(joined.stage_probability as numeric(5, 4)) as stage_probability,
        cast(joined.deal_value * joined.stage_probability as numeric(18, 2)) as weighted_value,
        cast(joined.days_in_previous_stage as numeric(12, 4)) as days_in_previous_stage,
        joined.is_reentry,
        joined.is_backward_move,
        joined.is_skip,
        joined.transition_at,
        joined.transition_date,
        {{ compliance_retention_date('joined.region', 'pipeline_events', 'joined.transition_date') }}
            as data_retention_date
    from joined

)

select * from final
