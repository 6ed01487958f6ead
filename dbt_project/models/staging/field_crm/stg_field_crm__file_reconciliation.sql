{#-
  One row per raw file of every field_crm table: raw rows (counted on the raw table itself) = staged rows +
  exact duplicates + rejected rows (disposition_reconciliation, macros/staging). is_reconciled is tested to be
  true.
-#}
{{ disposition_reconciliation('field_crm', {
    'leads': 'leads', 'bad_leads': 'bad_leads', 'lost_leads': 'lost_leads', 'booked_opportunities':
    'booked_opportunities', 'jobs': 'jobs', 'user_performance': 'user_performance'
}) }}
