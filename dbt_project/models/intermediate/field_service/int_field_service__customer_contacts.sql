{{ config(group='field_service_pii', access='private', grants={'select': []}) }}
{#- Keyed by lifecycle (quote, or a lead without one; macros/incremental_keys.sql): a run rebuilds the lifecycles
    whose leads, bookings or jobs a load changed, and every lifecycle with a record without an e-mail whose phone
    (last 5 digits, before or after the change) a changed lead has: such a record resolves through its phone's
    owner e-mail, which depends on all the leads that carry the phone (a record with an e-mail does not read
    it). It logs the customers, lifecycles and records it rewrote for the models that read it. A forgotten
    contact leaves it with the rebuild `funnel forget` runs. -#}
{%- set lead_lifecycle = field_service_lifecycle('quote_number', 'lead_id') %}
{%- set contacts = 'int_field_service__customer_contacts' %}
{#- the lifecycles of the records that resolve through a phone's owner; other rows of the phone do not read it -#}
{%- set phone_readers = [contacts, 'phone_suffix', 'case when customer_email is null then lifecycle_id end'] %}
{%- set new_phones = [
    'base_field_crm__leads', '_disposition_group', "right(regexp_replace(customer_phone, '[^0-9]', '', 'g'), 5)"
] %}
{{ keyed_incremental(
    key='lifecycle_id',
    source='field_crm',
    changes=field_service_lifecycle_feeds(['leads', 'booked_opportunities', 'jobs']) + [
        {
            'model': 'base_field_crm__leads', 'key': '_disposition_group',
            'through': [new_phones, phone_readers],
        },
        {
            'model': 'base_field_crm__leads', 'key': '_disposition_group',
            'through': [
                ['base_field_crm__leads', '_disposition_group', lead_lifecycle],
                [contacts, 'lifecycle_id', 'phone_suffix'],
                phone_readers,
            ],
        },
    ],
    log=['customer_id', 'lifecycle_id', 'record_id'],
) }}
{#-
  RESTRICTED (contains e-mails and phones): who the customer of every lead, booking and job is.

  Contact of a record: its own normalised e-mail, else the e-mail of the lead of its quote; phone: the lead's
  phone in E.164, completed with the calling code of the lead's branch country when written nationally.
  Customer resolution, in order:
    1. the e-mail;
    2. else the one e-mail its phone is seen with on leads (a phone seen with several e-mails is shared);
    3. else the phone.
  customer_id = md5(salt || natural key); set var field_crm_customer_key_salt to a secret in production so keys
  cannot be recomputed from a known e-mail. Only customer_id leaves this model. grants={'select': []} replaces
  any folder-level grant (e.g. intermediate -> analyst): nobody but the builder reads it.
-#}
with

leads as (

    select
        lead_id,
        quote_number,
        branch,
        customer_email,
        customer_phone,
        created_at
    from {{ ref('stg_field_crm__leads') }}
    where {{ field_service_lifecycle_filter('quote_number', 'lead_id') }}

),

bookings as (

    select
        opportunity_id,
        quote_number,
        customer_email
    from {{ ref('stg_field_crm__booked_opportunities') }}
    where {{ keyed_filter('quote_number') }}

),

jobs as (

    select
        job_id,
        quote_number,
        customer_email
    from {{ ref('stg_field_crm__jobs') }}
    where {{ keyed_filter('quote_number') }}

),

branch_variants as (

    {{ selected_columns(
        ref('int_field_service__name_variants'), ['raw_value', 'canonical_key'], where="dimension = 'branch'"
    ) }}

),

branches as (

    select
        branch_key,
        calling_code,
        has_trunk_prefix
    from {{ ref('field_crm_branches') }}

),

lead_contacts as (

    select
        leads.lead_id,
        leads.quote_number,
        leads.customer_email,
        {{ field_crm_phone_e164('leads.customer_phone', 'branches.calling_code', 'branches.has_trunk_prefix') }}
            as customer_phone,
        leads.created_at
    from leads
    left join branch_variants
        on leads.branch = branch_variants.raw_value
    left join branches
        on branch_variants.canonical_key = branches.branch_key

),

-- The contact of a quote for bookings and jobs without their own: its earliest lead with the detail.
quote_contacts as (

    select
        quote_number,
        (array_agg(customer_email order by created_at, lead_id) filter (where customer_email is not null))[1]
            as customer_email,
        (array_agg(customer_phone order by created_at, lead_id) filter (where customer_phone is not null))[1]
            as customer_phone
    from lead_contacts
    where quote_number is not null
    group by quote_number

),

records as (

    select
        'lead' as record_type,
        lead_id as record_id,
        quote_number,
        {{ lead_lifecycle }} as lifecycle_id,
        customer_email,
        customer_phone
    from lead_contacts
    union all
    select
        'booking' as record_type,
        bookings.opportunity_id as record_id,
        bookings.quote_number,
        bookings.quote_number as lifecycle_id,
        coalesce(bookings.customer_email, quote_contacts.customer_email) as customer_email,
        quote_contacts.customer_phone
    from bookings
    left join quote_contacts
        on bookings.quote_number = quote_contacts.quote_number
    union all
    select
        'job' as record_type,
        jobs.job_id as record_id,
        jobs.quote_number,
        jobs.quote_number as lifecycle_id,
        coalesce(jobs.customer_email, quote_contacts.customer_email) as customer_email,
        quote_contacts.customer_phone
    from jobs
    left join quote_contacts
        on jobs.quote_number = quote_contacts.quote_number

),

-- The leads a phone's owner is read from: all leads on the phones of this run's records without an e-mail. A
-- run rebuilds only such records' lifecycles: the other leads on their phones are kept as the last run wrote
-- them (their lifecycles are not rebuilt because nothing of them changed), found by the indexed phone suffix
-- rather than by reading the whole table.
phone_leads as (

    select
        customer_phone,
        customer_email
    from lead_contacts
    {%- if keyed_mode() == 'keys' %}
    union all
    select
        kept.customer_phone,
        kept.customer_email
    from {{ this }} as kept
    where
        kept.record_type = 'lead'
        and kept.phone_suffix in (select right(records.customer_phone, 5) from records where records.customer_email is null)
        and kept.customer_phone in (select records.customer_phone from records where records.customer_email is null)
        and not ({{ keyed_filter('kept.lifecycle_id') }})
    {%- endif %}

),

phone_owners as (

    select
        customer_phone,
        min(customer_email) as owner_email
    from phone_leads
    where customer_phone is not null and customer_email is not null
    group by customer_phone
    having count(distinct customer_email) = 1

),

resolved as (

    select
        records.record_type,
        records.record_id,
        records.quote_number,
        records.lifecycle_id,
        records.customer_email,
        records.customer_phone,
        case
            when records.customer_email is not null then 'email'
            when phone_owners.owner_email is not null then 'phone_to_email'
            when records.customer_phone is not null then 'phone'
        end as resolved_by,
        case
            when records.customer_email is not null then 'email:' || records.customer_email
            when phone_owners.owner_email is not null then 'email:' || phone_owners.owner_email
            when records.customer_phone is not null then 'phone:' || records.customer_phone
        end as customer_natural_key
    from records
    left join phone_owners
        on records.customer_phone = phone_owners.customer_phone

),

final as (

    select
        record_type,
        record_id,
        quote_number,
        lifecycle_id,
        case
            when customer_natural_key is not null
                then md5('{{ var("field_crm_customer_key_salt", "field_crm") }}|' || customer_natural_key)
        end as customer_id,
        customer_email,
        customer_phone,
        right(customer_phone, 5) as phone_suffix,
        resolved_by
    from resolved

)

select * from final
