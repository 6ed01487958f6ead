{#-
  Deal field definitions, typed (field_value_options as jsonb): the staged rows of base_pipedrive__fields (one per
  set of exact copies).
-#}
{{ staged_rows(
    ref('base_pipedrive__fields'), ['field_id', 'field_key', 'field_name', 'source_rows_count', 'field_value_options']
) }}
