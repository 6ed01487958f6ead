{#-
  One row per lead lifecycle event (seed "FactLeadConversion"), lifecycle = quote_number:
    created    the lead was created (leads.csv created_at);
    quoted     the lead reached QUOTED or beyond (status rank >= 3, or a booking or job exists). The export has
               no quote time: dated at creation, is_event_date_estimated = true;
    bad        the lead was flagged bad (bad_leads.csv flagged_at);
    booked     the quote was booked (booked_opportunities.csv booked_at); value = estimated amount;
    lost       the quote was lost (lost_leads.csv lost_at);
    scheduled  a BOOKED job of the quote (booked / scheduled: not done), on its job date; no value;
    converted  a CLOSED job of the quote (closed / completed / done), on its job date; value = its revenue (0 when
               blank or unreadable). Cancelled and unknown-status jobs are no events.
  Event types follow the job's status alone, not source_dt: the table is not cut at source_dt (events dated later
  are kept), the KPI tables built on it count only dates up to source_dt, so a job dated after source_dt never
  counts as done there, and an incremental window does not depend on the source_dt this table was built at.
  Attribution: the event record's own sales person / branch when they resolve, else its lead's (fct_* rules).
  days_in_previous_status = days since the lifecycle's previous event (ordered by date, then the order above).
  Keyed by lifecycle (macros/incremental_keys.sql): a run rebuilds the lifecycles a load of any field_crm file
  touched and those whose customers int_field_service__customer_contacts rewrote; a bad flag is read with the
  run's lifecycles by its own quote or by its lead's.
-#}
{{ keyed_incremental(
    key='lifecycle_id',
    source='field_crm',
    changes=field_service_lifecycle_feeds(),
    parents=[{'model': 'int_field_service__customer_contacts', 'column': 'lifecycle_id'}],
    log=['event_date', 'lead_id'],
) }}

with

leads as (

    {{ selected_columns(ref('int_field_service__leads_enriched'), [
        'lead_id', 'quote_number', 'customer_id', 'sales_person_key', 'branch_key', 'lead_source_key',
        'lead_status', 'lead_status_rank', 'region', 'gdpr_consent', 'created_date',
    ], where=field_service_lifecycle_filter('quote_number', 'lead_id')) }}

),

quotes as (

    {{ selected_columns(ref('int_field_service__quotes_linked'), [
        'quote_number', 'lead_id', 'has_booking', 'has_job',
    ], where=keyed_filter('quote_number')) }}

),

bad_leads as (

    {{ selected_columns(ref('int_field_service__bad_leads_selected'), [
        'lead_id', 'quote_number', 'flagged_date',
    ], where=field_service_lifecycle_filter('quote_number', 'lead_id') ~ ' or lead_id in (select lead_id from leads)') }}

),

lost_leads as (

    {{ selected_columns(ref('int_field_service__lost_leads_selected'), [
        'quote_number', 'sales_person', 'branch', 'lost_date',
    ], where=keyed_filter('quote_number')) }}

),

bookings as (

    {{ selected_columns(ref('fct_booked_opportunities'), [
        'opportunity_id', 'quote_number', 'lead_id', 'customer_id',
        'sales_person_key', 'branch_key', 'lead_source_key', 'region', 'gdpr_consent',
        'estimated_amount', 'booked_date',
    ], where=keyed_filter('quote_number')) }}

),

jobs as (

    {{ selected_columns(ref('fct_jobs'), [
        'job_id', 'quote_number', 'opportunity_id', 'lead_id', 'customer_id', 'sales_person_key',
        'branch_key', 'lead_source_key', 'region', 'gdpr_consent', 'job_status', 'revenue_amount', 'job_date',
    ], where=keyed_filter('quote_number')) }}

),

variants as (

    {{ selected_columns(ref('int_field_service__name_variants'), ['dimension', 'raw_value', 'canonical_key']) }}

),

branch_regions as (

    {{ selected_columns(ref('int_field_service__branch_regions'), ['branch_key', 'region']) }}

),

lead_events as (

    -- every lead is created; one that reached QUOTED or beyond (or has a booking or a job) is also quoted,
    -- dated at its creation (the export has no quote time)
    select
        leads.lead_id as record_id,
        kinds.event_type,
        leads.lead_id,
        leads.quote_number,
        leads.sales_person_key,
        leads.branch_key,
        leads.created_date as event_date,
        null as opportunity_id,
        null as job_id,
        null::numeric(16, 2) as conversion_value,
        kinds.event_type = 'quoted' as is_event_date_estimated
    from leads
    left join quotes
        on leads.quote_number = quotes.quote_number
    cross join (values ('created'), ('quoted')) as kinds (event_type)
    where
        kinds.event_type = 'created'
        or leads.lead_status_rank >= 3
        or quotes.has_booking
        or quotes.has_job

),

bad_events as (

    select
        bad_leads.lead_id as record_id,
        bad_leads.lead_id,
        bad_leads.flagged_date as event_date,
        'bad' as event_type,
        null as opportunity_id,
        null as job_id,
        false as is_event_date_estimated,
        null::numeric(16, 2) as conversion_value,
        coalesce(leads.quote_number, bad_leads.quote_number) as quote_number,
        coalesce(leads.sales_person_key, 'unknown') as sales_person_key,
        coalesce(leads.branch_key, 'unknown') as branch_key
    from bad_leads
    left join leads
        on bad_leads.lead_id = leads.lead_id

),

lost_events as (

    select
        lost_leads.quote_number as record_id,
        'lost' as event_type,
        quotes.lead_id,
        lost_leads.quote_number,
        null as opportunity_id,
        null as job_id,
        {{ field_crm_prefer_key([
            field_crm_resolved_key('lost_leads.sales_person', 'sales_person_variants'), 'leads.sales_person_key'
        ]) }} as sales_person_key,
        {{ field_crm_prefer_key([
            field_crm_resolved_key('lost_leads.branch', 'branch_variants'), 'leads.branch_key'
        ]) }} as branch_key,
        null::numeric(16, 2) as conversion_value,
        false as is_event_date_estimated,
        lost_leads.lost_date as event_date
    from lost_leads
    left join quotes
        on lost_leads.quote_number = quotes.quote_number
    left join leads
        on quotes.lead_id = leads.lead_id
    {{ field_service_variant_joins('lost_leads', ['sales_person', 'branch']) }}

),

deal_events as (

    select
        opportunity_id as record_id,
        'booked' as event_type,
        lead_id,
        quote_number,
        opportunity_id,
        null as job_id,
        sales_person_key,
        branch_key,
        estimated_amount as conversion_value,
        false as is_event_date_estimated,
        booked_date as event_date
    from bookings
    union all
    -- a BOOKED job (booked / scheduled: not done) is scheduled, with no value; a CLOSED one converted
    select
        job_id as record_id,
        case job_status when 'BOOKED' then 'scheduled' else 'converted' end as event_type,
        lead_id,
        quote_number,
        opportunity_id,
        job_id,
        sales_person_key,
        branch_key,
        case when job_status = 'CLOSED' then coalesce(revenue_amount, 0) end as conversion_value,
        false as is_event_date_estimated,
        job_date as event_date
    from jobs
    where job_status in ('BOOKED', 'CLOSED')

),

events as (

    {{ field_service_union_all(['lead_events', 'bad_events', 'lost_events', 'deal_events'], [
        'record_id', 'event_type', 'lead_id', 'quote_number', 'opportunity_id', 'job_id', 'sales_person_key',
        'branch_key', 'conversion_value', 'is_event_date_estimated', 'event_date',
    ]) }}

),

event_types as (

    -- the lifecycle order of the event types (ties on a date) and the status each stands for
    select
        event_type,
        event_order,
        event_status
    from (
        values
        ('created', 1, 'NEW'), ('quoted', 2, 'QUOTED'), ('bad', 3, 'BAD'), ('booked', 4, 'BOOKED'),
        ('lost', 5, 'LOST'), ('scheduled', 6, 'SCHEDULED'), ('converted', 7, 'CONVERTED')
    ) as event_types (event_type, event_order, event_status)

),

attributed as (

    select
        md5(events.event_type || '|' || events.record_id) as lead_event_id,
        coalesce(events.quote_number, 'lead:' || events.lead_id) as lifecycle_id,
        events.event_type,
        event_types.event_order,
        event_types.event_status,
        events.lead_id,
        events.quote_number,
        events.opportunity_id,
        events.job_id,
        coalesce(leads.customer_id, bookings.customer_id, jobs.customer_id) as customer_id,
        coalesce(leads.lead_source_key, bookings.lead_source_key, jobs.lead_source_key, 'unknown')
            as lead_source_key,
        events.sales_person_key,
        events.branch_key,
        coalesce(leads.region, bookings.region, jobs.region, branch_regions.region) as region,
        coalesce(
            leads.gdpr_consent, bookings.gdpr_consent, jobs.gdpr_consent,
            '{{ var("compliance_default_consent", "unknown") }}'
        ) as gdpr_consent,
        coalesce(leads.lead_status, 'NONE') as current_lead_status,
        events.conversion_value,
        events.is_event_date_estimated,
        leads.lead_id is null as is_orphan,
        events.event_date,
        leads.created_date as lead_created_date
    from events
    left join leads
        on events.lead_id = leads.lead_id
    left join bookings
        on events.opportunity_id = bookings.opportunity_id
    left join jobs
        on events.job_id = jobs.job_id
    left join branch_regions
        on events.branch_key = branch_regions.branch_key
    left join event_types
        on events.event_type = event_types.event_type

),

sequenced as (

    select
        lead_event_id,
        lifecycle_id,
        event_type,
        event_order,
        event_status,
        lead_id,
        quote_number,
        opportunity_id,
        job_id,
        customer_id,
        lead_source_key,
        sales_person_key,
        branch_key,
        region,
        gdpr_consent,
        current_lead_status,
        conversion_value,
        is_event_date_estimated,
        is_orphan,
        event_date,
        lead_created_date,
        lag(event_date) over lifecycle as previous_event_date,
        row_number() over lifecycle as event_sequence
    from attributed
    window lifecycle as (partition by lifecycle_id order by event_date, event_order, lead_event_id)

),

final as (

    select
        sequenced.lead_event_id,
        sequenced.lifecycle_id,
        sequenced.lead_id,
        sequenced.quote_number,
        sequenced.opportunity_id,
        sequenced.job_id,
        sequenced.customer_id,
        sequenced.lead_source_key,
        sequenced.sales_person_key,
        sequenced.branch_key,
        sequenced.region,
        sequenced.event_type,
        sequenced.event_status,
        sequenced.current_lead_status,
        sequenced.gdpr_consent,
        sequenced.event_sequence::integer as event_sequence,
        sequenced.event_date - sequenced.lead_created_date as days_since_creation,
        sequenced.event_date - sequenced.previous_event_date as days_in_previous_status,
        sequenced.conversion_value,
        sequenced.is_event_date_estimated,
        sequenced.is_orphan,
        sequenced.event_date,
        sequenced.lead_created_date,
        {{ compliance_retention_date('sequenced.region', 'pipeline_events', 'sequenced.event_date') }}
            as data_retention_date
    from sequenced

)

select * from final
-- a flag of the run's quotes whose lead lives in another lifecycle belongs to that one: rebuilt when it is rebuilt
where {{ in_region_scope('region') }} and {{ keyed_filter('lifecycle_id') }}
