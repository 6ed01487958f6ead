{#-
  Raw rows of every field_crm table that could not be staged, with the reason: a required value missing, a value
  that does not parse (date, number, consent), or a row superseded by a later version of the same key
  (disposition_rejects, macros/staging). Exact duplicates are not rejects (see stg_field_crm__file_reconciliation).
  An unreadable money amount is not a reject either: the row is staged with an empty amount
  (field_service_exceptions).
-#}
{{ disposition_rejects('field_crm', {
    'leads': 'leads', 'bad_leads': 'bad_leads', 'lost_leads': 'lost_leads', 'booked_opportunities':
    'booked_opportunities', 'jobs': 'jobs', 'user_performance': 'user_performance'
}) }}
