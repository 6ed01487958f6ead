{#-
  Activities, typed. activity_id is reused by different activities in the export (other deal, type and due
  time), so every distinct activity is kept and identified by activity_sk; of exact copies (identical after
  trimming) the first is staged, with the count of copies (base_pipedrive__activities).
  Keyed by activity id: a run rebuilds the ids a new load brought (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(
    key='activity_id', source='pipedrive', changes=[{'model': 'base_pipedrive__activities', 'key': 'activity_id'}]
) }}

with

staged as (

    {{ staged_rows(
        ref('base_pipedrive__activities'),
        ['activity_id', 'deal_id', 'owner_user_id', 'activity_type', 'is_done', 'due_at', 'source_rows_count'],
        where=keyed_filter('activity_id'),
    ) }}

),

final as (

    select
        {{ crm_surrogate_key([
            'activity_id', 'deal_id', 'owner_user_id', 'activity_type', 'is_done', 'extract(epoch from due_at)'
        ]) }} as activity_sk,
        activity_id,
        deal_id,
        owner_user_id,
        activity_type,
        source_rows_count,
        is_done,
        source_rows_count > 1 as is_collapsed_duplicate,
        due_at,
        {{ loader_lineage() }}
    from staged

)

select * from final
