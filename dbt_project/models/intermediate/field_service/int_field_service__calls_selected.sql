{#- The daily call metrics of each sales person (user_performance): the columns of
    stg_field_crm__user_performance that the marts read, as staging types them (a thin view:
    macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_field_crm__user_performance'), [
    'sales_person', 'sales_person_name_key', 'branch', 'calls_made', 'calls_answered', 'talk_minutes',
    'performance_date',
]) }}
