{#-
  Every raw activity type, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with
  its disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging).
-#}
{{ typed_with_disposition(
    source('pipedrive', 'activity_types'),
    columns=['activity_type_id', 'activity_type', 'activity_type_name', 'is_active'],
    reason_order=['id', 'type', 'name', 'active'],
) }}
