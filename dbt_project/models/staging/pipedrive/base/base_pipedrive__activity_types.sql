{#-
  Every raw activity type, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with
  the reason it cannot be typed (null when it can); applied by typed_with_reject_reason (macros/staging).
-#}
{{ typed_with_reject_reason(
    source('pipedrive', 'activity_types'),
    columns=['activity_type_id', 'activity_type', 'activity_type_name', 'is_active'],
    reason_order=['id', 'type', 'name', 'active'],
) }}
