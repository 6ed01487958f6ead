{#-
  Every raw lead, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row) or
  rejected (with the reason). stg_field_crm__leads keeps the staged rows. How each column is parsed is the
  source's YAML contract (_field_crm__sources.yml), applied by staged_with_disposition (macros/field_crm).
  Two columns are staged otherwise than their type says: the customer's name keeps its text with whitespace runs
  collapsed (blank stays empty, not null), and the region keeps its code (blank = null) beside its matching key.
  Incremental by load: a run takes the loads it does not hold yet (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(key='_disposition_group', source='field_crm', by_load=true) }}
{{ staged_with_disposition(
    source('field_crm', 'leads'),
    suppressions=source('privacy', 'suppressions'),
    expressions={
        'customer_name': "regexp_replace(btrim(customer_name), '[[:space:]]+', ' ', 'g')",
        'region_code': clean_text('region'),
    },
) }}
