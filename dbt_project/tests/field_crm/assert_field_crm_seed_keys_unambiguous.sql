{#-
  The reference seeds of field_crm must resolve every folded name to one key: canonical names fold to distinct
  keys, an alias never folds onto another key's canonical name or onto a second key, and no seed uses the
  reserved placeholder keys 'unknown' / 'unresolved'. Returns one row per problem.
-#}
{#- Dagster shows this test as a check on the first of the seeds it reads. -#}
{{ config(meta={'dagster': {'ref': {'name': 'field_crm_sales_people'}}}) }}
with

names as (

    select
        'sales_person' as dimension,
        'canonical' as kind,
        sales_person_key as canonical_key,
        sales_person_name as spelling,
        {{ field_crm_name_key('sales_person_name') }} as match_key
    from {{ ref('field_crm_sales_people') }}
    union all
    select
        'sales_person' as dimension,
        'alias' as kind,
        sales_person_key as canonical_key,
        alias as spelling,
        {{ field_crm_name_key('alias') }} as match_key
    from {{ ref('sales_person_aliases') }}
    union all
    select
        'branch' as dimension,
        'canonical' as kind,
        branch_key as canonical_key,
        branch_name as spelling,
        {{ field_crm_name_key('branch_name', reorder_comma=false) }} as match_key
    from {{ ref('field_crm_branches') }}
    union all
    select
        'branch' as dimension,
        'alias' as kind,
        branch_key as canonical_key,
        alias as spelling,
        {{ field_crm_name_key('alias', reorder_comma=false) }} as match_key
    from {{ ref('branch_aliases') }}
    union all
    select
        'lead_source' as dimension,
        'canonical' as kind,
        lead_source_key as canonical_key,
        lead_source_name as spelling,
        {{ field_crm_name_key('lead_source_name', reorder_comma=false) }} as match_key
    from {{ ref('field_crm_lead_sources') }}
    union all
    select
        'lead_source' as dimension,
        'alias' as kind,
        lead_source_key as canonical_key,
        alias as spelling,
        {{ field_crm_name_key('alias', reorder_comma=false) }} as match_key
    from {{ ref('lead_source_aliases') }}

),

clashes as (

    select
        dimension,
        match_key as subject,
        'folds to several keys: ' || string_agg(distinct canonical_key, ', ') as problem
    from names
    group by dimension, match_key
    having count(distinct canonical_key) > 1

),

empty_keys as (

    select
        dimension,
        spelling as subject,
        'folds to an empty key' as problem
    from names
    where match_key is null

),

reserved as (

    select
        dimension,
        canonical_key as subject,
        'uses a reserved key' as problem
    from names
    where canonical_key in ('unknown', 'unresolved')

),

final as (

    select
        dimension,
        subject,
        problem
    from clashes
    union all
    select
        dimension,
        subject,
        problem
    from empty_keys
    union all
    select
        dimension,
        subject,
        problem
    from reserved

)

select
    dimension,
    subject,
    problem
from final
