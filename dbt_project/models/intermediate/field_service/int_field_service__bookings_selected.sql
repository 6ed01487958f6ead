{#-
  The booked opportunities:
  the columns of stg_field_crm__booked_opportunities that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

bookings as (

    select
        opportunity_id,
        quote_number,
        sales_person,
        branch,
        lead_source,
        estimated_amount,
        unreadable_estimated_amount,
        booked_at,
        booked_date
    from {{ ref('stg_field_crm__booked_opportunities') }}

)

select * from bookings
