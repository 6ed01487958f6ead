{#- Only BOOKED and CLOSED jobs carry recognised revenue; cancelled jobs are kept with none. -#}
with

jobs as (

    select
        job_id,
        job_status,
        recognised_revenue,
        is_revenue_job
    from {{ ref('fct_jobs') }}

),

final as (

    select
        job_id,
        job_status,
        recognised_revenue
    from jobs
    where
        (recognised_revenue <> 0 and job_status not in ('BOOKED', 'CLOSED'))
        or (is_revenue_job <> (job_status in ('BOOKED', 'CLOSED')))

)

select
    job_id,
    job_status,
    recognised_revenue
from final
