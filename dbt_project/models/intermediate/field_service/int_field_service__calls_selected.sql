{#-
  The daily call metrics of each sales person (user_performance):
  the columns of stg_field_crm__user_performance that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

calls as (

    select
        sales_person,
        sales_person_name_key,
        branch,
        calls_made,
        calls_answered,
        talk_minutes,
        performance_date
    from {{ ref('stg_field_crm__user_performance') }}

)

select * from calls
