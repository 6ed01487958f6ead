{#-
  What needs a human, one row per exception (no customer data):
    unresolved_sales_person / _branch / _lead_source / _region  a spelling that matched no canonical name or
                                                                 alias: add it to the alias seed named in action;
    unknown_lead_status / unknown_job_status                     a status word the seed field_crm_statuses lacks;
    orphan_booking / orphan_loss                                 booked or lost quote whose lead is not in leads;
    orphan_job                                                   job whose quote has no booking;
    orphan_bad_flag                                              bad flag for a lead_id not in leads;
    unreadable_booking_amount / unreadable_job_revenue           a booking / job whose amount is not a money
                                                                 amount ('TBD', '#VALUE!', 'n/a'): staged with
                                                                 an empty amount; subject = the booking / job id,
                                                                 detail names the value as written;
    rejected_rows                                                rows of a file that could not be staged
                                                                 (reasons in stg_field_crm__rejects).
-#}
with

variants as (

    select
        dimension,
        raw_value,
        name_key,
        canonical_key,
        occurrences,
        seen_in,
        first_seen_file
    from {{ ref('int_field_service__name_variants') }}

),

leads as (

    select
        lead_status_raw,
        is_status_known,
        _source_file
    from {{ ref('stg_field_crm__leads') }}

),

jobs as (

    select
        job_id,
        job_status_raw,
        is_status_known,
        unreadable_revenue,
        _source_file,
        _source_line
    from {{ ref('stg_field_crm__jobs') }}

),

bookings as (

    select
        opportunity_id,
        unreadable_estimated_amount,
        _source_file,
        _source_line
    from {{ ref('stg_field_crm__booked_opportunities') }}
    where unreadable_estimated_amount is not null

),

quotes as (

    select
        quote_number,
        lead_id,
        is_orphan_booking,
        is_orphan_job,
        is_orphan_loss,
        is_orphan_bad_flag
    from {{ ref('int_field_service__quotes_linked') }}

),

rejects as (

    select
        source_table,
        _source_file
    from {{ ref('stg_field_crm__rejects') }}

),

unresolved_names as (

    select
        raw_value as subject,
        occurrences,
        first_seen_file,
        'unresolved_' || dimension as exception_type,
        'folded key ' || coalesce(quote_literal(name_key), 'empty') || '; seen in ' || seen_in as detail,
        case dimension
            when 'sales_person' then 'add it to seeds/field_crm/sales_person_aliases.csv'
            when 'branch' then 'add it to seeds/field_crm/branch_aliases.csv'
            when 'lead_source' then 'add it to seeds/field_crm/lead_source_aliases.csv'
            when 'region' then 'add the region to seeds/field_crm/field_crm_regions.csv'
        end as suggested_action
    from variants
    where canonical_key is null

),

unknown_statuses as (

    select
        'unknown_lead_status' as exception_type,
        coalesce(lead_status_raw, '(blank)') as subject,
        'lead status not in seed field_crm_statuses (domain lead); staged as UNKNOWN' as detail,
        count(*) as occurrences,
        min(_source_file) as first_seen_file,
        'map it in seeds/field_crm/field_crm_statuses.csv' as suggested_action
    from leads
    where not is_status_known
    group by coalesce(lead_status_raw, '(blank)')
    union all
    select
        'unknown_job_status' as exception_type,
        coalesce(job_status_raw, '(blank)') as subject,
        'job status not in seed field_crm_statuses (domain job); staged as UNKNOWN, not revenue' as detail,
        count(*) as occurrences,
        min(_source_file) as first_seen_file,
        'map it in seeds/field_crm/field_crm_statuses.csv' as suggested_action
    from jobs
    where not is_status_known
    group by coalesce(job_status_raw, '(blank)')

),

orphans as (

    select
        quotes.quote_number as subject,
        orphan_checks.exception_type,
        orphan_checks.detail,
        null as first_seen_file,
        1 as occurrences,
        'check the CRM export: the linked record is missing' as suggested_action
    from quotes
    cross join
        lateral (
            values
            ('orphan_booking', 'booked quote has no lead in leads.csv', quotes.is_orphan_booking),
            ('orphan_loss', 'lost quote has no lead in leads.csv', quotes.is_orphan_loss),
            ('orphan_job', 'job quote has no booking in booked_opportunities.csv', quotes.is_orphan_job),
            ('orphan_bad_flag', 'bad flag of a lead_id not in leads.csv', quotes.is_orphan_bad_flag)
        ) as orphan_checks (exception_type, detail, is_orphan)
    where orphan_checks.is_orphan

),

unreadable_amounts as (

    select
        opportunity_id as subject,
        _source_file as first_seen_file,
        1 as occurrences,
        'unreadable_booking_amount' as exception_type,
        'estimated_amount is not a money amount: ' || quote_literal(unreadable_estimated_amount)
        || ' (' || _source_file || ':' || _source_line || '); the booking is kept with an empty amount'
            as detail,
        'correct the amount in the CRM and re-export the booking' as suggested_action
    from bookings
    union all
    select
        job_id as subject,
        _source_file as first_seen_file,
        1 as occurrences,
        'unreadable_job_revenue' as exception_type,
        'revenue is not a money amount: ' || quote_literal(unreadable_revenue)
        || ' (' || _source_file || ':' || _source_line || '); the job is kept with an empty revenue'
            as detail,
        'correct the revenue in the CRM and re-export the job' as suggested_action
    from jobs
    where unreadable_revenue is not null

),

rejected_rows as (

    select
        _source_file as first_seen_file,
        'rejected_rows' as exception_type,
        'rows that could not be staged; reasons in stg_field_crm__rejects' as detail,
        'fix the export or the parsing rule (macros/field_crm)' as suggested_action,
        source_table || ' / ' || _source_file as subject,
        count(*) as occurrences
    from rejects
    group by source_table, _source_file

),

unioned as (

    {{ field_service_union_all(
        ['unresolved_names', 'unknown_statuses', 'orphans', 'unreadable_amounts', 'rejected_rows'],
        ['exception_type', 'subject', 'detail', 'occurrences', 'first_seen_file', 'suggested_action'],
    ) }}

),

final as (

    select
        exception_type,
        subject,
        detail,
        first_seen_file,
        suggested_action,
        occurrences::integer as occurrences,
        md5(exception_type || '|' || subject) as exception_id
    from unioned

)

select
    exception_id,
    exception_type,
    subject,
    detail,
    occurrences,
    first_seen_file,
    suggested_action
from final
