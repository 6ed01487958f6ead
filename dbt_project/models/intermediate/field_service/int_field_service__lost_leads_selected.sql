{#- The lost quotes: the columns of stg_field_crm__lost_leads that the marts read, as staging types them (a thin
    view: macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_field_crm__lost_leads'), [
    'quote_number', 'sales_person', 'branch', 'lost_date',
]) }}
