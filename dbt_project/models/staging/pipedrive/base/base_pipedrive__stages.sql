{#-
  Every raw stage, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with its
  disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging).
-#}
{{ typed_with_disposition(source('pipedrive', 'stages')) }}
