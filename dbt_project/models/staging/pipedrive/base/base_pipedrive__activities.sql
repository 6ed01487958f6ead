{#-
  Every raw activity, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with the
  reason it cannot be typed (null when it can); applied by typed_with_reject_reason (macros/staging).
-#}
{{ typed_with_reject_reason(
    source('pipedrive', 'activity'),
    columns=['activity_id', 'deal_id', 'owner_user_id', 'activity_type', 'is_done', 'due_at'],
    reason_order=['activity_id', 'deal_id', 'type', 'assigned_to_user', 'done', 'due_to'],
) }}
