{#-
  The deal change log, typed: one row per distinct change (deal, instant, field, value). Exact duplicates
  (identical after trimming) collapse into one row that keeps the count and the lineage of the first copy.
-#}
{#- A table, not a view: half a dozen models read it (a view re-parses and re-collapses the raw rows for
    each), and the index on changed_at lets the incremental daily_deal_stats read only its window. -#}
{{ config(
    materialized='table',
    indexes=[{'columns': ['changed_at']}],
) }}

with

base as (

    select
        deal_id,
        changed_field_key,
        new_value,
        stage_id,
        user_id,
        lost_reason_id,
        deal_value,
        deal_status,
        added_at,
        changed_at,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__deal_changes') }}
    where reject_reason is null

),

collapsed as (

    select
        deal_id,
        changed_field_key,
        new_value,
        stage_id,
        user_id,
        lost_reason_id,
        deal_value,
        deal_status,
        added_at,
        changed_at,
        count(*) as source_rows_count,
        (array_agg(_source_file order by _load_id, _source_line))[1] as _source_file,
        (array_agg(_source_line order by _load_id, _source_line))[1] as _source_line,
        min(_load_id) as _load_id,
        min(_loaded_at) as _loaded_at
    from base
    group by
        deal_id,
        changed_field_key,
        new_value,
        stage_id,
        user_id,
        lost_reason_id,
        deal_value,
        deal_status,
        added_at,
        changed_at

),

final as (

    select
        {{ crm_surrogate_key(['deal_id', 'extract(epoch from changed_at)', 'changed_field_key', 'new_value']) }}
            as deal_change_id,
        deal_id,
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
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from collapsed

)

select
    deal_change_id,
    deal_id,
    stage_id,
    user_id,
    lost_reason_id,
    changed_field_key,
    new_value,
    deal_status,
    deal_value,
    source_rows_count,
    is_collapsed_duplicate,
    added_at,
    changed_at,
    _source_file,
    _source_line,
    _load_id,
    _loaded_at
from final
