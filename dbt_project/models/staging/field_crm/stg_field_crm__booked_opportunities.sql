{#-
  Booked opportunities: one row per opportunity_id, typed (estimated amount in money; null when blank or
  unreadable, the unreadable text in unreadable_estimated_amount). The staged rows of
  base_field_crm__booked_opportunities (staged_rows, macros/staging).
-#}
{{ staged_rows(ref('base_field_crm__booked_opportunities'), [
    'opportunity_id', 'quote_number', 'sales_person', 'sales_person_name_key', 'branch', 'branch_name_key',
    'lead_source', 'lead_source_name_key', 'customer_email', 'estimated_amount', 'unreadable_estimated_amount',
    'booked_at', 'booked_date',
]) }}
