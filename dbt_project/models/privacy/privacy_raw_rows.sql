{#-
  RESTRICTED. One row per raw row of every table that holds personal or event data, keyed by its lineage
  (table_name, _load_id, _source_line): what `funnel purge` and `funnel forget` act on.

  - email_hash / phone_hash: sha256 of the normalised e-mail / phone digits (macros/privacy), never the value;
    customer_id: the resolved customer of a staged lead, booking or job (int_field_service__customer_keys).
  - data_retention_date: event date + the retention of (region, table family) from seeds/compliance, with the
    region and family the facts use for the same record (fct_deal_stage_transitions and fct_lead_conversions:
    'pipeline_events'; fct_activities: 'activities'), so purging raw rows past it leaves no fact row past its
    own. Rows that are not staged (duplicates, rejects) have no fact: region var compliance_default_region,
    and the load date when the event date cannot be parsed. Reference data (stages, fields, activity types)
    is not listed; Pipedrive users are listed for forget only (no retention date: never purged). With var
    `regions`, only rows whose fact is in those regions are listed: a region-scoped deployment never ages
    another region's rows by the default region.
  A source that is switched off (var `<source>_enabled`) contributes no rows.
-#}
-- The source switches wrap whole CTEs and union branches, which sqlfluff would indent as blocks:
-- noqa: disable=LT02
{%- set pipedrive = source_enabled('pipedrive') %}
{%- set field_crm = source_enabled('field_crm') %}
with
{% if pipedrive %}
deal_changes as (

    select
        deal_id,
        changed_at,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__deal_changes') }}

),

deals as (

    -- the region belongs to the deal id: the same in every episode of a reused id
    select
        deal_id,
        region
    from {{ ref('int_deals_consolidated') }}
    where deal_episode = 1

),

activities as (

    select
        deal_id,
        owner_user_id,
        due_at,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_pipedrive__activities') }}

),

activity_regions as (

    select distinct
        deal_id,
        owner_user_id,
        region
    from {{ ref('fct_activities') }}

),

users as (

    select
        user_name,
        email,
        _source_line,
        _load_id
    from {{ ref('base_pipedrive__users') }}

),
{% endif %}
{%- if field_crm %}
leads as (

    select
        lead_id,
        quote_number,
        created_date,
        customer_name,
        customer_email,
        customer_phone,
        row_disposition,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__leads') }}

),

lead_events as (

    select
        lead_id,
        quote_number,
        region
    from {{ ref('fct_lead_conversions') }}

),

lead_regions as (

    select
        lead_id,
        min(region) as region
    from lead_events
    where lead_id is not null
    group by lead_id

),

quote_regions as (

    select
        quote_number,
        min(region) as region
    from lead_events
    where quote_number is not null
    group by quote_number

),

bad_leads as (

    select
        lead_id,
        flagged_date,
        row_disposition,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__bad_leads') }}

),

lost_leads as (

    select
        quote_number,
        lost_date,
        row_disposition,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__lost_leads') }}

),

bookings as (

    select
        opportunity_id,
        booked_date,
        customer_email,
        row_disposition,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__booked_opportunities') }}

),

booking_facts as (

    select
        opportunity_id,
        region
    from {{ ref('fct_booked_opportunities') }}

),

jobs as (

    select
        job_id,
        job_date,
        customer_email,
        row_disposition,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__jobs') }}

),

job_facts as (

    select
        job_id,
        region
    from {{ ref('fct_jobs') }}

),

user_performance as (

    select
        branch,
        performance_date,
        row_disposition,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__user_performance') }}

),

branch_variants as (

    select
        raw_value,
        canonical_key
    from {{ ref('int_field_service__name_variants') }}
    where dimension = 'branch'

),

branch_regions as (

    select
        branch_key,
        region
    from {{ ref('int_field_service__branch_regions') }}

),

customer_keys as (

    select
        record_type,
        record_id,
        customer_id
    from {{ ref('int_field_service__customer_keys') }}

),
{% endif %}
rows_listed as (
{% if pipedrive %}
    select
        'pipedrive' as source_system,
        'deal_changes' as table_name,
        deal_changes._load_id,
        deal_changes._source_line,
        cast(null as text) as email_hash,
        cast(null as text) as phone_hash,
        cast(null as text) as customer_id,
        false as has_personal_data,
        'pipeline_events' as table_family,
        deals.region,
        coalesce({{ to_business_date('deal_changes.changed_at') }}, cast(deal_changes._loaded_at as date))
            as event_date
    from deal_changes
    left join deals
        on deal_changes.deal_id = deals.deal_id

    union all

    select
        'pipedrive' as source_system,
        'activity' as table_name,
        activities._load_id,
        activities._source_line,
        null as email_hash,
        null as phone_hash,
        null as customer_id,
        false as has_personal_data,
        'activities' as table_family,
        activity_regions.region,
        coalesce({{ to_business_date('activities.due_at') }}, cast(activities._loaded_at as date)) as event_date
    from activities
    -- null matches null, as `is not distinct from` would; but PostgreSQL can hash-join only equalities (a bigint
    -- never casts to ''): a nested loop over every activity x deal/owner pair ran over 20 minutes at 200k deals
    left join activity_regions
        on
            coalesce(cast(activities.deal_id as text), '') = coalesce(cast(activity_regions.deal_id as text), '')
            and coalesce(cast(activities.owner_user_id as text), '')
            = coalesce(cast(activity_regions.owner_user_id as text), '')

    union all

    select
        'pipedrive' as source_system,
        'users' as table_name,
        _load_id,
        _source_line,
        {{ privacy_hash(privacy_normalise('email', 'email')) }} as email_hash,
        null as phone_hash,
        null as customer_id,
        coalesce(user_name, email) is not null as has_personal_data,
        null as table_family,
        null as region,
        null as event_date
    from users
{% endif %}
{%- if pipedrive and field_crm %}
    union all
{% endif %}
{%- if field_crm %}
    select
        'field_crm' as source_system,
        'leads' as table_name,
        leads._load_id,
        leads._source_line,
        {{ privacy_hash('leads.customer_email') }} as email_hash,
        {{ privacy_hash(privacy_phone_digits('leads.customer_phone')) }} as phone_hash,
        customer_keys.customer_id,
        coalesce(leads.customer_name, leads.customer_email, leads.customer_phone) is not null as has_personal_data,
        'pipeline_events' as table_family,
        lead_regions.region,
        coalesce(leads.created_date, cast(leads._loaded_at as date)) as event_date
    from leads
    left join customer_keys
        on
            leads.row_disposition = 'staged'
            and customer_keys.record_type = 'lead'
            and leads.lead_id = customer_keys.record_id
    left join lead_regions
        on leads.row_disposition = 'staged' and leads.lead_id = lead_regions.lead_id

    union all

    select
        'field_crm' as source_system,
        'bad_leads' as table_name,
        bad_leads._load_id,
        bad_leads._source_line,
        null as email_hash,
        null as phone_hash,
        null as customer_id,
        false as has_personal_data,
        'pipeline_events' as table_family,
        lead_regions.region,
        coalesce(bad_leads.flagged_date, cast(bad_leads._loaded_at as date)) as event_date
    from bad_leads
    left join lead_regions
        on bad_leads.row_disposition = 'staged' and bad_leads.lead_id = lead_regions.lead_id

    union all

    select
        'field_crm' as source_system,
        'lost_leads' as table_name,
        lost_leads._load_id,
        lost_leads._source_line,
        null as email_hash,
        null as phone_hash,
        null as customer_id,
        false as has_personal_data,
        'pipeline_events' as table_family,
        quote_regions.region,
        coalesce(lost_leads.lost_date, cast(lost_leads._loaded_at as date)) as event_date
    from lost_leads
    left join quote_regions
        on lost_leads.row_disposition = 'staged' and lost_leads.quote_number = quote_regions.quote_number

    union all

    select
        'field_crm' as source_system,
        'booked_opportunities' as table_name,
        bookings._load_id,
        bookings._source_line,
        {{ privacy_hash('bookings.customer_email') }} as email_hash,
        null as phone_hash,
        customer_keys.customer_id,
        bookings.customer_email is not null as has_personal_data,
        'pipeline_events' as table_family,
        booking_facts.region,
        coalesce(bookings.booked_date, cast(bookings._loaded_at as date)) as event_date
    from bookings
    left join customer_keys
        on
            bookings.row_disposition = 'staged'
            and customer_keys.record_type = 'booking'
            and bookings.opportunity_id = customer_keys.record_id
    left join booking_facts
        on bookings.row_disposition = 'staged' and bookings.opportunity_id = booking_facts.opportunity_id

    union all

    select
        'field_crm' as source_system,
        'jobs' as table_name,
        jobs._load_id,
        jobs._source_line,
        {{ privacy_hash('jobs.customer_email') }} as email_hash,
        null as phone_hash,
        customer_keys.customer_id,
        jobs.customer_email is not null as has_personal_data,
        'pipeline_events' as table_family,
        job_facts.region,
        coalesce(jobs.job_date, cast(jobs._loaded_at as date)) as event_date
    from jobs
    left join customer_keys
        on
            jobs.row_disposition = 'staged'
            and customer_keys.record_type = 'job'
            and jobs.job_id = customer_keys.record_id
    left join job_facts
        on jobs.row_disposition = 'staged' and jobs.job_id = job_facts.job_id

    union all

    select
        'field_crm' as source_system,
        'user_performance' as table_name,
        user_performance._load_id,
        user_performance._source_line,
        null as email_hash,
        null as phone_hash,
        null as customer_id,
        false as has_personal_data,
        'user_performance' as table_family,
        branch_regions.region,
        coalesce(user_performance.performance_date, cast(user_performance._loaded_at as date)) as event_date
    from user_performance
    left join branch_variants
        on user_performance.branch = branch_variants.raw_value
    left join branch_regions
        on branch_variants.canonical_key = branch_regions.branch_key
{% endif %}
{%- if not pipedrive and not field_crm %}
    select
        cast(null as text) as source_system,
        cast(null as text) as table_name,
        cast(null as bigint) as _load_id,
        cast(null as bigint) as _source_line,
        cast(null as text) as email_hash,
        cast(null as text) as phone_hash,
        cast(null as text) as customer_id,
        false as has_personal_data,
        cast(null as text) as table_family,
        cast(null as text) as region,
        cast(null as date) as event_date
    where false
{% endif %}
),

regioned as (

    select
        source_system,
        table_name,
        _load_id,
        _source_line,
        email_hash,
        phone_hash,
        customer_id,
        has_personal_data,
        table_family,
        coalesce(region, '{{ var("compliance_default_region", "unassigned") }}') as region,
        event_date
    from rows_listed
    {%- if region_scope() is not none %}
    -- var regions: only the rows whose fact is in scope (the unscoped deployment ages the rest)
    where table_name = 'users' or (region is not null and {{ in_region_scope('region') }})
    {%- endif %}

),

final as (

    select
        regioned.source_system,
        regioned.table_name,
        regioned._load_id,
        regioned._source_line,
        regioned.email_hash,
        regioned.phone_hash,
        regioned.customer_id,
        regioned.has_personal_data,
        regioned.table_family,
        regioned.region,
        regioned.event_date,
        case regioned.table_family
            {%- for family in ['pipeline_events', 'activities', 'user_performance'] %}
                when '{{ family }}'
                    then {{ compliance_retention_date('regioned.region', family, 'regioned.event_date') }}
            {%- endfor %}
        end as data_retention_date
    from regioned

)

select * from final
