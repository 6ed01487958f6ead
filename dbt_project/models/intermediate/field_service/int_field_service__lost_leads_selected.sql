{#-
  The lost quotes:
  the columns of stg_field_crm__lost_leads that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

lost_leads as (

    select
        quote_number,
        sales_person,
        branch,
        lost_date
    from {{ ref('stg_field_crm__lost_leads') }}

)

select * from lost_leads
