{#-
  Lost quotes: one row per quote_number, typed; names folded to keys (resolved in intermediate). The staged rows
  of base_field_crm__lost_leads (staged_rows, macros/staging).
-#}
{{ staged_rows(ref('base_field_crm__lost_leads'), [
    'quote_number', 'lost_reason', 'sales_person', 'sales_person_name_key', 'branch', 'branch_name_key', 'lost_at',
    'lost_date',
]) }}
