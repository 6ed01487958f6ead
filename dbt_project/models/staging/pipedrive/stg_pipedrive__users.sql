{#-
  Users, typed: the staged rows of base_pipedrive__users (one per set of exact copies). Names and emails are
  personal data: they never reach a mart.
-#}
{{ staged_rows(
    ref('base_pipedrive__users'), ['user_id', 'user_name', 'email', 'source_rows_count', 'modified_at']
) }}
