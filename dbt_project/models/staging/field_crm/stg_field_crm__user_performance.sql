{#-
  Daily call metrics: one row per folded sales-person name and day, typed. The staged rows of
  base_field_crm__user_performance (staged_rows, macros/staging).
-#}
{{ staged_rows(ref('base_field_crm__user_performance'), [
    'sales_person', 'sales_person_name_key', 'branch', 'branch_name_key', 'calls_made', 'calls_answered',
    'talk_minutes', 'performance_date',
]) }}
