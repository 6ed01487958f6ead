{#-
  One row per sales person of the roster (seed field_crm_sales_people) plus the members 'unknown' (no name
  given) and 'unresolved' (a spelling that matched nothing; see field_service_exceptions). raw_variants lists
  every spelling seen in the export that resolves to the key.
-#}
with

people as (

    select
        sales_person_key,
        sales_person_name,
        home_branch_key
    from {{ ref('field_crm_sales_people') }}

),

variants as (

    select
        raw_value,
        canonical_key
    from {{ ref('int_field_service__name_variants') }}
    where dimension = 'sales_person'

),

members as (

    select
        sales_person_key,
        sales_person_name,
        home_branch_key,
        false as is_placeholder
    from people
    union all
    select
        'unknown' as sales_person_key,
        'Unknown (not given)' as sales_person_name,
        null as home_branch_key,
        true as is_placeholder
    union all
    select
        'unresolved' as sales_person_key,
        'Unresolved (no canonical match)' as sales_person_name,
        null as home_branch_key,
        true as is_placeholder

),

spellings as (

    select
        coalesce(canonical_key, 'unresolved') as sales_person_key,
        array_agg(raw_value order by raw_value) as raw_variants
    from variants
    group by coalesce(canonical_key, 'unresolved')

),

final as (

    select
        members.sales_person_key,
        members.home_branch_key,
        members.sales_person_name,
        members.is_placeholder,
        coalesce(spellings.raw_variants, '{}'::text[]) as raw_variants,
        coalesce(cardinality(spellings.raw_variants), 0) as variants_count
    from members
    left join spellings
        on members.sales_person_key = spellings.sales_person_key

)

select
    sales_person_key,
    home_branch_key,
    sales_person_name,
    raw_variants,
    variants_count,
    is_placeholder
from final
