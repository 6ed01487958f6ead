{#-
  Deal field definitions, typed (field_value_options as jsonb); exact duplicates collapse (collapsed_exact_copies,
  macros/staging).
-#}
{{ collapsed_exact_copies(
    ref('base_pipedrive__fields'), ['field_id', 'field_key', 'field_name', 'source_rows_count', 'field_value_options']
) }}
