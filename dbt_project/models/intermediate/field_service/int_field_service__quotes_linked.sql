{#-
  One row per quote_number seen in any staged field_crm file: how it links leads -> booked opportunities ->
  jobs / lost leads, and which links are missing (orphans: a booking or loss whose lead is not in leads.csv,
  a job whose booking is not in booked_opportunities.csv, a bad flag whose lead is unknown).
-#}
{#- Keyed by quote (macros/incremental_keys.sql): a run rebuilds the quotes a load of any field_crm file touched.
    A bad flag belongs to its own quote, else to its lead's. -#}
{{ keyed_incremental(key='quote_number', source='field_crm', changes=field_service_lifecycle_feeds()) }}
{%- set flag_of_a_run_lead = ' or (quote_number is null and lead_id in (select leads.lead_id from leads))' %}

with

leads as (

    {{ selected_columns(
        ref('stg_field_crm__leads'), ['quote_number', 'lead_id', 'created_date'], where=keyed_filter('quote_number')
    ) }}

),

bad_flags as (

    {{ selected_columns(ref('stg_field_crm__bad_leads'), ['lead_id', 'quote_number', 'flagged_date'], where=(
        keyed_filter('quote_number') ~ flag_of_a_run_lead
    )) }}

),

flagged_leads as (

    {{ selected_columns(ref('stg_field_crm__leads'), ['quote_number', 'lead_id'], where=(
        'lead_id in (select bad_flags.lead_id from bad_flags)'
    )) }}

),

lost_leads as (

    {{ selected_columns(
        ref('stg_field_crm__lost_leads'), ['quote_number', 'lost_date'], where=keyed_filter('quote_number')
    ) }}

),

bookings as (

    {{ selected_columns(ref('stg_field_crm__booked_opportunities'), [
        'quote_number', 'opportunity_id', 'booked_date',
    ], where=keyed_filter('quote_number')) }}

),

jobs as (

    {{ selected_columns(
        ref('stg_field_crm__jobs'), ['quote_number', 'job_id', 'job_date'], where=keyed_filter('quote_number')
    ) }}

),

bad_leads as (

    select
        bad_flags.lead_id,
        bad_flags.flagged_date,
        coalesce(bad_flags.quote_number, flagged_leads.quote_number) as quote_number,
        flagged_leads.lead_id is not null as has_known_lead
    from bad_flags
    left join flagged_leads
        on bad_flags.lead_id = flagged_leads.lead_id

),

quotes as (

    select quote_number
    from leads
    where quote_number is not null
    union
    select quote_number
    from bad_leads
    where quote_number is not null
    union
    select quote_number
    from lost_leads
    union
    select quote_number
    from bookings
    union
    select quote_number
    from jobs

),

lead_links as (

    select
        quote_number,
        (array_agg(lead_id order by created_date, lead_id))[1] as lead_id,
        count(*) as leads_count,
        min(created_date) as created_date
    from leads
    where quote_number is not null
    group by quote_number

),

bad_links as (

    select
        quote_number,
        count(*) as bad_flags_count,
        min(flagged_date) as flagged_date,
        bool_and(has_known_lead) as has_known_lead
    from bad_leads
    where quote_number is not null
    group by quote_number

),

lost_links as (

    select
        quote_number,
        count(*) as losses_count,
        min(lost_date) as lost_date
    from lost_leads
    group by quote_number

),

booking_links as (

    select
        quote_number,
        (array_agg(opportunity_id order by booked_date, opportunity_id))[1] as opportunity_id,
        count(*) as bookings_count,
        min(booked_date) as booked_date
    from bookings
    group by quote_number

),

job_links as (

    select
        quote_number,
        (array_agg(job_id order by job_date, job_id))[1] as job_id,
        count(*) as jobs_count,
        min(job_date) as job_date
    from jobs
    group by quote_number

),

final as (

    select
        quotes.quote_number,
        lead_links.lead_id,
        booking_links.opportunity_id,
        job_links.job_id,
        lead_links.created_date,
        bad_links.flagged_date,
        lost_links.lost_date,
        booking_links.booked_date,
        job_links.job_date,
        coalesce(lead_links.leads_count, 0) as leads_count,
        coalesce(bad_links.bad_flags_count, 0) as bad_flags_count,
        coalesce(lost_links.losses_count, 0) as losses_count,
        coalesce(booking_links.bookings_count, 0) as bookings_count,
        coalesce(job_links.jobs_count, 0) as jobs_count,
        lead_links.quote_number is not null as has_lead,
        booking_links.quote_number is not null as has_booking,
        job_links.quote_number is not null as has_job,
        lost_links.quote_number is not null as is_lost,
        bad_links.quote_number is not null as is_flagged_bad,
        booking_links.quote_number is not null and lead_links.quote_number is null as is_orphan_booking,
        job_links.quote_number is not null and booking_links.quote_number is null as is_orphan_job,
        lost_links.quote_number is not null and lead_links.quote_number is null as is_orphan_loss,
        coalesce(not bad_links.has_known_lead, false) as is_orphan_bad_flag,
        bad_links.quote_number is not null and booking_links.quote_number is not null as is_booked_after_bad,
        lost_links.quote_number is not null and booking_links.quote_number is not null as is_booked_and_lost
    from quotes
    -- every *_links CTE holds at most one row per quote_number
    {% for links in ['lead_links', 'bad_links', 'lost_links', 'booking_links', 'job_links'] -%}
        left join {{ links }}
            on quotes.quote_number = {{ links }}.quote_number
    {% endfor %}

)

select
    quote_number,
    lead_id,
    opportunity_id,
    job_id,
    leads_count,
    bad_flags_count,
    losses_count,
    bookings_count,
    jobs_count,
    has_lead,
    has_booking,
    has_job,
    is_lost,
    is_flagged_bad,
    is_orphan_booking,
    is_orphan_job,
    is_orphan_loss,
    is_orphan_bad_flag,
    is_booked_after_bad,
    is_booked_and_lost,
    created_date,
    flagged_date,
    lost_date,
    booked_date,
    job_date
from final
