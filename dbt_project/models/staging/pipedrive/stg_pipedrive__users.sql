{#-
  Users, typed; exact duplicates collapse (collapsed_exact_copies, macros/staging). Names and emails are personal
  data: they never reach a mart.
-#}
{{ collapsed_exact_copies(
    ref('base_pipedrive__users'), ['user_id', 'user_name', 'email', 'source_rows_count', 'modified_at']
) }}
