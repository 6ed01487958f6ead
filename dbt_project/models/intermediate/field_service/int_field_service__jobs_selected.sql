{#- The jobs: the columns of stg_field_crm__jobs that the marts read, as staging types them (a thin view:
    macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_field_crm__jobs'), [
    'job_id', 'quote_number', 'job_status', 'sales_person', 'branch', 'origin_city', 'destination_city',
    'revenue_amount', 'unreadable_revenue', 'is_revenue_job', 'is_cancelled', 'job_date',
]) }}
