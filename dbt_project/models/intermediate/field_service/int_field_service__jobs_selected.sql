{#-
  The jobs:
  the columns of stg_field_crm__jobs that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

jobs as (

    select
        job_id,
        quote_number,
        job_status,
        sales_person,
        branch,
        origin_city,
        destination_city,
        revenue_amount,
        unreadable_revenue,
        is_revenue_job,
        is_cancelled,
        job_date
    from {{ ref('stg_field_crm__jobs') }}

)

select * from jobs
