{#-
  Every raw user, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with its
  disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging). A forgotten subject's name and e-mail are blanked before anything else reads them
  (macros/privacy).
-#}
{{ typed_with_disposition(source('pipedrive', 'users'), suppressions=source('privacy', 'suppressions')) }}
