{#-
  Jobs: one row per job_id, typed and normalised; status mapped through the seed field_crm_statuses. BOOKED and
  CLOSED jobs are revenue jobs (fct_jobs recognises the revenue of done ones only); cancelled jobs are kept and
  flagged. A revenue that could not be read is null, its raw text in unreadable_revenue.
-#}
with

jobs as (

    {{ staged_rows(ref('base_field_crm__jobs'), [
        'job_id', 'quote_number', 'job_date', 'status_folded', 'revenue', 'unreadable_revenue', 'sales_person',
        'sales_person_name_key', 'branch', 'branch_name_key', 'customer_email', 'origin_city', 'destination_city',
    ]) }}

),

statuses as (

    select
        raw_status,
        status,
        counts_as_revenue
    from {{ ref('field_crm_statuses') }}
    where status_domain = 'job'

),

final as (

    select
        jobs.job_id,
        jobs.quote_number,
        coalesce(statuses.status, 'UNKNOWN') as job_status,
        jobs.status_folded as job_status_raw,
        jobs.sales_person,
        jobs.sales_person_name_key,
        jobs.branch,
        jobs.branch_name_key,
        jobs.customer_email,
        jobs.origin_city,
        jobs.destination_city,
        jobs.revenue as revenue_amount,
        jobs.unreadable_revenue,
        statuses.status is not null as is_status_known,
        coalesce(statuses.counts_as_revenue, false) as is_revenue_job,
        coalesce(statuses.status = 'CANCELLED', false) as is_cancelled,
        jobs.job_date,
        {{ loader_lineage('jobs') }}
    from jobs
    left join statuses
        on jobs.status_folded = statuses.raw_status

)

select * from final
