{#-
  Every branch key, including the members 'unknown' and 'unresolved', with its sales region, its compliance
  region (the region of records that have no lead to take it from: orphan bookings, jobs, losses) and the raw
  spellings that resolve to it. Compliance region: assignment of the branch (seeds/compliance), else its sales
  region's (seed field_crm_regions), else var compliance_default_region. dim_branches publishes it.
-#}
with

branches as (

    select
        branch_key,
        region_code
    from {{ ref('field_crm_branches') }}

),

regions as (

    select
        region_code,
        compliance_region
    from {{ ref('field_crm_regions') }}

),

variants as (

    select
        raw_value,
        canonical_key
    from {{ ref('int_field_service__name_variants') }}
    where dimension = 'branch'

),

branch_assignments as (

    select
        subject_id,
        min(region) as region
    from {{ ref('compliance_region_assignments') }}
    where source_system = 'field_crm' and subject_type = 'branch'
    group by subject_id

),

members as (

    select
        branch_key,
        region_code,
        false as is_placeholder
    from branches
    union all
    select
        'unknown' as branch_key,
        null as region_code,
        true as is_placeholder
    union all
    select
        'unresolved' as branch_key,
        null as region_code,
        true as is_placeholder

),

spellings as (

    select
        coalesce(canonical_key, 'unresolved') as branch_key,
        array_agg(raw_value order by raw_value) as raw_variants
    from variants
    group by coalesce(canonical_key, 'unresolved')

),

final as (

    select
        members.branch_key,
        members.region_code as sales_region_code,
        coalesce(
            branch_assignments.region,
            regions.compliance_region,
            '{{ var("compliance_default_region", "unassigned") }}'
        ) as region,
        coalesce(spellings.raw_variants, '{}'::text[]) as raw_variants,
        members.is_placeholder
    from members
    left join regions
        on members.region_code = regions.region_code
    left join branch_assignments
        on members.branch_key = branch_assignments.subject_id
    left join spellings
        on members.branch_key = spellings.branch_key

)

select * from final
