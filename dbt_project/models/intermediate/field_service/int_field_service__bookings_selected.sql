{#- The booked opportunities: the columns of stg_field_crm__booked_opportunities that the marts read, as staging
    types them (a thin view: macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_field_crm__booked_opportunities'), [
    'opportunity_id', 'quote_number', 'sales_person', 'branch', 'lead_source', 'estimated_amount',
    'unreadable_estimated_amount', 'booked_at', 'booked_date',
]) }}
