{#-
  Activity types, typed; exact duplicates collapse (collapsed_exact_copies, macros/staging). `activity_type` is
  the key activities use.
-#}
{{ collapsed_exact_copies(
    ref('base_pipedrive__activity_types'),
    ['activity_type_id', 'activity_type', 'activity_type_name', 'source_rows_count', 'is_active'],
) }}
