{#-
  Every branch key, including the members 'unknown' and 'unresolved', with its sales region, its compliance
  region (the region of records that have no lead to take it from: orphan bookings, jobs, losses) and the raw
  spellings that resolve to it. Compliance region: assignment of the branch (seeds/compliance), else its sales
  region's (seed field_crm_regions), else var compliance_default_region. dim_branches publishes it.
-#}
with

branches as (

    {{ selected_columns(ref('field_crm_branches'), ['branch_key', 'region_code']) }}

),

regions as (

    {{ selected_columns(ref('field_crm_regions'), ['region_code', 'compliance_region']) }}

),

variants as (

    {{ selected_columns(
        ref('int_field_service__name_variants'), ['raw_value', 'canonical_key'], where="dimension = 'branch'"
    ) }}

),

branch_assignments as (

    {{ field_service_region_assignments('branch') }}

),

members as (

    {{ field_service_members('branches', 'branch_key', ['region_code']) }}

),

spellings as (

    {{ field_service_spellings('branch_key') }}

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
