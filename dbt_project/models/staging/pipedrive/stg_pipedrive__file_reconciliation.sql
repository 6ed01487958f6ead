{#-
  One row per raw Pipedrive file: raw rows (counted on the raw table) = staged rows + exact copies of a staged
  row + rejected rows (disposition_reconciliation, macros/staging). is_reconciled is tested to be true. The
  tables are the contract's (`staging` of each table in _pipedrive__sources.yml; tests/test_source_contracts.py
  checks the list).
-#}
{{ disposition_reconciliation('pipedrive', {
    'deal_changes': 'deal_changes', 'activity': 'activities', 'activity_types': 'activity_types',
    'stages': 'stages', 'users': 'users', 'fields': 'fields'
}) }}
