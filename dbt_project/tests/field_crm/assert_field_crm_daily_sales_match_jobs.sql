{#-
  metrics_daily.total_sales and transactions_count equal the transactions of fct_jobs (BOOKED/CLOSED jobs with
  a revenue amount) on the days metrics_daily covers. Returns the days that disagree.
-#}
{#- Dagster shows this test as a check on metrics_daily: the incremental model it checks, built after fct_jobs. -#}
{{ config(meta={'dagster': {'ref': {'name': 'metrics_daily'}}}) }}
with

metrics as (

    select
        metric_date,
        total_sales,
        transactions_count
    from {{ ref('metrics_daily') }}

),

jobs as (

    select
        job_date,
        sum(revenue_amount) as total_sales,
        count(*) as transactions_count
    from {{ ref('fct_jobs') }}
    where is_transaction
    group by job_date

),

final as (

    select
        metrics.metric_date,
        metrics.total_sales,
        metrics.transactions_count,
        coalesce(jobs.total_sales, 0) as jobs_total_sales,
        coalesce(jobs.transactions_count, 0) as jobs_transactions_count
    from metrics
    left join jobs
        on metrics.metric_date = jobs.job_date
    where
        metrics.total_sales <> coalesce(jobs.total_sales, 0)
        or metrics.transactions_count <> coalesce(jobs.transactions_count, 0)

)

select
    metric_date,
    total_sales,
    transactions_count,
    jobs_total_sales,
    jobs_transactions_count
from final
