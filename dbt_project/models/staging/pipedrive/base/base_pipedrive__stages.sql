{#-
  Every raw stage, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with the
  reason it cannot be typed (null when it can); applied by typed_with_reject_reason (macros/staging).
-#}
{{ typed_with_reject_reason(source('pipedrive', 'stages')) }}
