{#- The leads flagged bad: the columns of stg_field_crm__bad_leads that the marts read, as staging types them (a
    thin view: macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_field_crm__bad_leads'), [
    'lead_id', 'quote_number', 'flagged_date',
]) }}
