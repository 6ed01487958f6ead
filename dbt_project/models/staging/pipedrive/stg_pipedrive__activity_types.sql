{#-
  Activity types, typed: the staged rows of base_pipedrive__activity_types (one per set of exact copies).
  `activity_type` is the key activities use.
-#}
{{ staged_rows(
    ref('base_pipedrive__activity_types'),
    ['activity_type_id', 'activity_type', 'activity_type_name', 'source_rows_count', 'is_active'],
) }}
