{#-
  Every raw Pipedrive row that cannot be typed, with the reason and its raw values (disposition_rejects,
  macros/staging). stg_pipedrive__file_reconciliation counts them beside the staged rows and duplicates.
-#}
{{ disposition_rejects('pipedrive', {
    'deal_changes': 'deal_changes', 'activity': 'activities', 'activity_types': 'activity_types',
    'stages': 'stages', 'users': 'users', 'fields': 'fields'
}) }}
