{#-
  One row per staged lead with canonical keys, region, consent and customer (no PII):
    keys      sales person, branch, lead source through int_field_service__name_variants ('unknown' when blank,
              'unresolved' when the spelling matched nothing);
    sales_region_code  the lead's own region when it resolves, else its branch's (seed field_crm_branches);
    region    compliance region (seeds/compliance): assignment of the lead, else the compliance region of its
              own sales region (seed field_crm_regions), else its branch's (int_field_service__branch_regions);
    gdpr_consent  compliance_consents (latest), else the lead's own flag, else var compliance_default_consent.
-#}
{#- Keyed by lead (macros/incremental_keys.sql): a run rebuilds the leads a load brought a version of, and those
    whose customer int_field_service__customer_contacts rewrote. -#}
{{ keyed_incremental(
    key='lead_id',
    source='field_crm',
    changes=[{'model': 'base_field_crm__leads', 'key': 'lead_id'}],
    parents=[{'model': 'int_field_service__customer_contacts', 'column': 'record_id'}],
    log=['lead_id', 'customer_id'],
) }}

with

leads as (

    {{ selected_columns(ref('stg_field_crm__leads'), [
        'lead_id', 'quote_number', 'lead_status', 'lead_status_rank', 'lead_source', 'branch', 'sales_person',
        'region_name_key', 'gdpr_consent', 'created_at', 'created_date',
    ], where=keyed_filter('lead_id')) }}

),

variants as (

    {{ selected_columns(ref('int_field_service__name_variants'), [
        'dimension', 'raw_value', 'name_key', 'canonical_key',
    ]) }}

),

branch_regions as (

    {{ selected_columns(ref('int_field_service__branch_regions'), ['branch_key', 'sales_region_code', 'region']) }}

),

regions as (

    {{ selected_columns(ref('field_crm_regions'), ['region_code', 'compliance_region']) }}

),

lead_assignments as (

    {{ field_service_region_assignments('lead') }}

),

consents as (

    select distinct on (subject_id)
        subject_id,
        gdpr_consent
    from {{ ref('compliance_consents') }}
    where source_system = 'field_crm' and subject_type = 'lead'
    order by subject_id asc, recorded_at desc nulls last, gdpr_consent asc

),

customer_keys as (

    {{ selected_columns(ref('int_field_service__customer_keys'), [
        'record_id', 'customer_id',
    ], where="record_type = 'lead' and " ~ keyed_filter('record_id')) }}

),

region_keys as (

    select distinct
        name_key,
        canonical_key
    from variants
    where dimension = 'region' and canonical_key is not null

),

resolved as (

    select
        leads.lead_id,
        leads.quote_number,
        leads.lead_status,
        leads.lead_status_rank,
        {{ field_crm_resolved_key('leads.sales_person', 'sales_person_variants') }} as sales_person_key,
        {{ field_crm_resolved_key('leads.branch', 'branch_variants') }} as branch_key,
        {{ field_crm_resolved_key('leads.lead_source', 'lead_source_variants') }} as lead_source_key,
        region_keys.canonical_key as own_region_code,
        leads.gdpr_consent,
        leads.created_at,
        leads.created_date
    from leads
    {{ field_service_variant_joins('leads', ['sales_person', 'branch', 'lead_source']) }}
    left join region_keys
        on leads.region_name_key = region_keys.name_key

),

final as (

    select
        resolved.lead_id,
        resolved.quote_number,
        customer_keys.customer_id,
        resolved.sales_person_key,
        resolved.branch_key,
        resolved.lead_source_key,
        resolved.lead_status,
        resolved.lead_status_rank,
        coalesce(resolved.own_region_code, branch_regions.sales_region_code) as sales_region_code,
        coalesce(lead_assignments.region, regions.compliance_region, branch_regions.region) as region,
        coalesce(
            consents.gdpr_consent,
            nullif(resolved.gdpr_consent, 'unknown'),
            '{{ var("compliance_default_consent", "unknown") }}'
        ) as gdpr_consent,
        resolved.created_at,
        resolved.created_date
    from resolved
    left join branch_regions
        on resolved.branch_key = branch_regions.branch_key
    left join regions
        on resolved.own_region_code = regions.region_code
    left join lead_assignments
        on resolved.lead_id = lead_assignments.subject_id
    left join consents
        on resolved.lead_id = consents.subject_id
    left join customer_keys
        on resolved.lead_id = customer_keys.record_id

)

select
    lead_id,
    quote_number,
    customer_id,
    sales_person_key,
    branch_key,
    lead_source_key,
    lead_status,
    lead_status_rank,
    sales_region_code,
    region,
    gdpr_consent,
    created_at,
    created_date
from final
where {{ in_region_scope('region') }}
