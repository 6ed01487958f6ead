{#-
  Every raw activity, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with its
  disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging).
  Incremental by load: a run takes the loads it does not hold yet (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(key='_disposition_group', source='pipedrive', by_load=true) }}
{{ typed_with_disposition(
    source('pipedrive', 'activity'),
    columns=['activity_id', 'deal_id', 'owner_user_id', 'activity_type', 'is_done', 'due_at'],
    reason_order=['activity_id', 'deal_id', 'type', 'assigned_to_user', 'done', 'due_to'],
) }}
