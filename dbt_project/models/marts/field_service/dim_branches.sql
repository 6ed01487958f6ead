{#-
  One row per branch (seed field_crm_branches) plus the members 'unknown' and 'unresolved', with its sales
  region, compliance region and every spelling seen in the export that resolves to it.
-#}
with

branches as (

    select
        branch_key,
        branch_name,
        country_code
    from {{ ref('field_crm_branches') }}

),

resolved_branches as (

    select
        branch_key,
        sales_region_code,
        region,
        raw_variants,
        is_placeholder
    from {{ ref('int_field_service__branch_regions') }}

),

final as (

    select
        resolved_branches.branch_key,
        branches.country_code,
        resolved_branches.sales_region_code,
        resolved_branches.region,
        resolved_branches.raw_variants,
        resolved_branches.is_placeholder,
        coalesce(
            branches.branch_name,
            case resolved_branches.branch_key
                when 'unknown' then 'Unknown (not given)'
                else 'Unresolved (no canonical match)'
            end
        ) as branch_name,
        cardinality(resolved_branches.raw_variants) as variants_count
    from resolved_branches
    left join branches
        on resolved_branches.branch_key = branches.branch_key

)

select
    branch_key,
    branch_name,
    sales_region_code,
    region,
    country_code,
    raw_variants,
    variants_count,
    is_placeholder
from final
