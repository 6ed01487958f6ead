{#-
  The leads flagged bad:
  the columns of stg_field_crm__bad_leads that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

bad_leads as (

    select
        lead_id,
        quote_number,
        flagged_date
    from {{ ref('stg_field_crm__bad_leads') }}

)

select * from bad_leads
