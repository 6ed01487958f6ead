{{ config(group='field_service_pii') }}
{#-
  The customer of every lead, booking and job as a key only: the one door from the restricted
  int_field_service__customer_contacts to the rest of the project (no e-mail, no phone).
-#}
with

contacts as (

    select
        record_type,
        record_id,
        quote_number,
        customer_id,
        resolved_by
    from {{ ref('int_field_service__customer_contacts') }}

)

select * from contacts
