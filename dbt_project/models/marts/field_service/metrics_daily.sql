{{ config(
    unique_key='metric_date',
    meta={'window': {'column': 'metric_date', 'grain': 'day', 'late': [
        {'model': 'fct_jobs', 'column': 'job_date', 'onward': true},
    ]}},
) }}
{{ windowed_incremental() }}
{#-
  Daily sales KPIs (seed "Simple Analytics Platform"), one row per business day from the first transaction up to
  source_dt (days without sales included, as zeros). A transaction is a done job - status CLOSED (closed /
  completed / done) - with a revenue amount, dated on its job date; scheduled (BOOKED) jobs are none, and no day
  after source_dt is counted. New customers: customers whose first transaction ever is that day;
  cumulative_customers: customers with a first transaction on or before it. Transactions are decided by the job's
  status, not by fct_jobs' as-of flags, and first transactions are taken from fct_jobs here: every value depends
  only on the data and the row's date, so an incremental run equals a full refresh. A run replaces its window and
  every day from the earliest job date fct_jobs rewrote since (macros/incremental_late.sql: cumulative_customers of
  every later day may change).
-#}
with

jobs as (

    select
        customer_id,
        revenue_amount,
        job_date
    from {{ ref('fct_jobs') }}
    where job_status = 'CLOSED' and revenue_amount is not null

),

customers as (

    select
        customer_id,
        min(job_date) as first_transaction_date
    from jobs
    where customer_id is not null
    group by customer_id

),

days as (

    select spine_day::date as metric_date
    from generate_series(
        (select min(job_date) from jobs),
        {{ ref_date() }},
        interval '1 day'
    ) as spine_day

),

first_transactions as (

    select
        first_transaction_date,
        count(*) as new_customers
    from customers
    group by first_transaction_date

),

days_counted as (

    -- the running count of customers in one ordered pass over the days (the spine is short), not a count over
    -- all customers for each day: a run that replaces every day stays cheap
    select
        days.metric_date,
        coalesce(first_transactions.new_customers, 0)::integer as new_customers,
        (sum(coalesce(first_transactions.new_customers, 0)) over (order by days.metric_date))::integer
            as cumulative_customers
    from days
    left join first_transactions
        on days.metric_date = first_transactions.first_transaction_date

),

window_days as (

    select
        metric_date,
        new_customers,
        cumulative_customers
    from days_counted
    where {{ window_filter('metric_date', 'day') }}

),

sales as (

    select
        job_date as metric_date,
        sum(revenue_amount) as total_sales,
        count(*) as transactions_count,
        count(distinct customer_id) as total_customers
    from jobs
    where {{ window_filter('job_date', 'day') }}
    group by job_date

),

final as (

    select
        window_days.metric_date,
        window_days.new_customers,
        window_days.cumulative_customers,
        coalesce(sales.total_sales, 0)::numeric(16, 2) as total_sales,
        coalesce(sales.transactions_count, 0)::integer as transactions_count,
        round(sales.total_sales / nullif(sales.transactions_count, 0), 2)::numeric(16, 2)
            as average_transaction_value,
        coalesce(sales.total_customers, 0)::integer as total_customers
    from window_days
    left join sales
        on window_days.metric_date = sales.metric_date

)

select * from final
