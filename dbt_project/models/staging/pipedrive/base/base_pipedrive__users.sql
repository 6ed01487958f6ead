{#-
  Every raw user, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with the
  reason it cannot be typed (null when it can); applied by typed_with_reject_reason (macros/staging). A forgotten
  subject's name and e-mail are blanked before anything else reads them (macros/privacy).
-#}
{{ typed_with_reject_reason(source('pipedrive', 'users'), suppressions=source('privacy', 'suppressions')) }}
