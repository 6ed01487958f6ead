{#-
  Every raw booked opportunity, parsed, with its disposition: staged, duplicate (an exact copy of an earlier row)
  or rejected (with the reason). stg_field_crm__booked_opportunities keeps the staged rows. An unreadable estimated
  amount ('TBD', '#VALUE!') does not reject the row: it is staged with a null amount and the raw text kept in
  unreadable_estimated_amount (listed in field_service_exceptions). How each column is parsed is the source's
  YAML contract (_field_crm__sources.yml), applied by staged_with_disposition (macros/field_crm).
  Incremental by load: a run takes the loads it does not hold yet (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(key='_disposition_group', source='field_crm', by_load=true) }}
{{ staged_with_disposition(
    source('field_crm', 'booked_opportunities'),
    suppressions=source('privacy', 'suppressions'),
) }}
