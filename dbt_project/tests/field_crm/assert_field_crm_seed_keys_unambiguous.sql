{#-
  The reference seeds of field_crm must resolve every folded name to one key: canonical names fold to distinct
  keys, an alias never folds onto another key's canonical name or onto a second key, and no seed uses the
  reserved placeholder keys 'unknown' / 'unresolved'. Returns one row per problem.
-#}
{#- Dagster shows this test as a check on the first of the seeds it reads. -#}
{{ config(meta={'dagster': {'ref': {'name': 'field_crm_sales_people'}}}) }}
with

names as (

    {{ field_service_seed_names(regions=false) }}

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

    {{ field_service_union_all(['clashes', 'empty_keys', 'reserved'], ['dimension', 'subject', 'problem']) }}

)

select
    dimension,
    subject,
    problem
from final
