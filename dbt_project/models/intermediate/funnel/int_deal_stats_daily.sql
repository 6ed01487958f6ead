{#-
  Stage entries per business day, stage and deal (incremental, window delete + insert over the run's window).

  Grain: date_day x stage_id x deal_id. A row depends only on the stage changes of its own day: a run reads
  its window alone, and a backfill of past days leaves the rows of every other day valid. int_deal_stats_monthly
  counts distinct deals per month from these rows, so a deal entering a stage on several days of a month
  counts once there.
-#}
-- depends_on: {{ ref('int_deal_regions_resolved') }}
{{ funnel_windowed_config(['date_day', 'stage_id', 'deal_id'], 'date_day', 'day') }}

with

stage_changes as (

    select
        deal_id,
        stage_id,
        {{ to_business_date('changed_at') }} as changed_date
    from {{ ref('stg_pipedrive__deal_changes') }}
    where
        changed_field_key = 'stage_id'
        and {{ window_filter_at('changed_at', 'day') }}
        and {{ pipedrive_in_region_scope('deal_id', 'null') }}

),

funnel_steps as (

    {{ funnel_stage_steps() }}

),

final as (

    select
        stage_changes.changed_date as date_day,
        stage_changes.stage_id,
        stage_changes.deal_id,
        max(funnel_steps.funnel_step) as funnel_step,
        count(*) as stage_entries_count
    from stage_changes
    left join funnel_steps
        on stage_changes.stage_id = funnel_steps.stage_id
    group by
        stage_changes.changed_date,
        stage_changes.stage_id,
        stage_changes.deal_id

)

select * from final
