{#-
  Every raw activity, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with its
  disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging).
-#}
{{ typed_with_disposition(
    source('pipedrive', 'activity'),
    columns=['activity_id', 'deal_id', 'owner_user_id', 'activity_type', 'is_done', 'due_at'],
    reason_order=['activity_id', 'deal_id', 'type', 'assigned_to_user', 'done', 'due_to'],
) }}
