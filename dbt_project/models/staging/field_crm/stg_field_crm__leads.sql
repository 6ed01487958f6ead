{#- Leads: one row per lead_id, typed and normalised; status mapped through the seed field_crm_statuses. -#}
with

leads as (

    {{ staged_rows(ref('base_field_crm__leads'), [
        'lead_id', 'quote_number', 'created_at', 'created_date', 'status_folded', 'lead_source',
        'lead_source_name_key', 'branch', 'branch_name_key', 'sales_person', 'sales_person_name_key', 'customer_name',
        'customer_email', 'customer_phone', 'origin_city', 'destination_city', 'region_code', 'region_name_key',
        'gdpr_consent',
    ]) }}

),

statuses as (

    select
        raw_status,
        status,
        pipeline_rank
    from {{ ref('field_crm_statuses') }}
    where status_domain = 'lead'

),

final as (

    select
        leads.lead_id,
        leads.quote_number,
        coalesce(statuses.status, 'UNKNOWN') as lead_status,
        leads.status_folded as lead_status_raw,
        coalesce(statuses.pipeline_rank, 0) as lead_status_rank,
        leads.lead_source,
        leads.lead_source_name_key,
        leads.branch,
        leads.branch_name_key,
        leads.sales_person,
        leads.sales_person_name_key,
        leads.customer_name,
        leads.customer_email,
        leads.customer_phone,
        leads.origin_city,
        leads.destination_city,
        leads.region_code,
        leads.region_name_key,
        leads.gdpr_consent,
        statuses.status is not null as is_status_known,
        leads.created_at,
        leads.created_date,
        {{ loader_lineage('leads') }}
    from leads
    left join statuses
        on leads.status_folded = statuses.raw_status

)

select * from final
