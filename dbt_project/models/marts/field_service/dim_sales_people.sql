{#-
  One row per sales person of the roster (seed field_crm_sales_people) plus the members 'unknown' (no name
  given) and 'unresolved' (a spelling that matched nothing; see field_service_exceptions). raw_variants lists
  every spelling seen in the export that resolves to the key.
-#}
{{ field_service_dimension(
    ref('field_crm_sales_people'), 'sales_person', 'sales_person_key', 'sales_person_name', ['home_branch_key'],
    output_columns=['home_branch_key', 'sales_person_name'],
) }}
