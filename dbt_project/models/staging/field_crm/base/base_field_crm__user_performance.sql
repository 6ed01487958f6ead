{#-
  Every raw daily call-metrics row, parsed, with its disposition: staged, duplicate (an exact copy of an earlier
  row) or rejected (with the reason). stg_field_crm__user_performance keeps the staged rows. A row's key is the
  sales person (by matching key) and the day. How each column is parsed is the source's YAML contract
  (_field_crm__sources.yml), applied by staged_with_disposition (macros/field_crm).
  Incremental by load: a run takes the loads it does not hold yet (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(key='_disposition_group', source='field_crm', by_load=true, log=['performance_date']) }}
{{ staged_with_disposition(source('field_crm', 'user_performance')) }}
