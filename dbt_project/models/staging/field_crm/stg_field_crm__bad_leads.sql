{#-
  Bad-lead flags: one row per flagged lead_id, typed. The staged rows of base_field_crm__bad_leads (staged_rows,
  macros/staging).
-#}
{{ staged_rows(ref('base_field_crm__bad_leads'), [
    'lead_id', 'quote_number', 'bad_reason', 'flagged_at', 'flagged_date',
]) }}
