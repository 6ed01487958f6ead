{#-
  One row per lead source (seed field_crm_lead_sources) plus the members 'unknown' and 'unresolved', with every
  spelling seen in the export that resolves to it.
-#}
{{ field_service_dimension(
    ref('field_crm_lead_sources'), 'lead_source', 'lead_source_key', 'lead_source_name', ['channel'],
    output_columns=['lead_source_name', 'channel'],
) }}
