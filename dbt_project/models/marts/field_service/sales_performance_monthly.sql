{{ config(
    unique_key=['performance_month', 'sales_person_key', 'branch_key'],
    meta={'window': {'column': 'performance_month', 'grain': 'month', 'late': [
        {'model': 'fct_lead_conversions', 'column': 'event_date'},
        {'model': 'base_field_crm__user_performance', 'column': 'performance_date'},
    ]}},
) }}
{{ windowed_incremental() }}
{#-
  Per business month, sales person and branch: quotes, bookings, jobs done (CLOSED jobs), booked value and
  revenue, summed from the days of lead_funnel_daily (the events of fct_lead_conversions by event date and the
  event's attribution; no day after source_dt), the flow ratio bookings of the month / quotes of the month
  (bookings_per_quote_flow_rate: not a share, may exceed 1), and the call metrics of user_performance (names
  resolved like everywhere else). A run replaces every month the window and the late days
  of fct_lead_conversions and the call metrics touch (macros/incremental_late.sql), re-summed from all the daily rows
  of that month (as lead_funnel_monthly).
-#}
-- depends_on: {{ ref('int_field_service__branch_regions') }}
with

funnel_days as (

    {{ selected_columns(ref('lead_funnel_daily'), [
        'funnel_date', 'sales_person_key', 'branch_key', 'quoted_count', 'booked_count', 'jobs_done_count',
        'booked_value', 'revenue',
    ], where=window_filter('funnel_date', 'month')) }}

),

calls as (

    select
        sales_person,
        branch,
        calls_made,
        calls_answered,
        talk_minutes,
        performance_date
    from {{ ref('int_field_service__calls_selected') }}
    where
        {{ window_filter('performance_date', 'month') }}
    {%- if region_scope() is not none %}
        -- var regions: the calls of branches in scope
        and branch in (
            select branch_variants.raw_value
            from {{ ref('int_field_service__name_variants') }} as branch_variants
            inner join {{ ref('int_field_service__branch_regions') }} as branch_regions
                on branch_variants.canonical_key = branch_regions.branch_key
            where branch_variants.dimension = 'branch' and {{ in_region_scope('branch_regions.region') }}
        )
    {%- endif %}

),

variants as (

    {{ selected_columns(ref('int_field_service__name_variants'), ['dimension', 'raw_value', 'canonical_key']) }}

),

event_totals as (

    select
        sales_person_key,
        branch_key,
        date_trunc('month', funnel_date)::date as performance_month,
        sum(quoted_count) as quotes_count,
        sum(booked_count) as bookings_count,
        sum(jobs_done_count) as jobs_count,
        sum(booked_value) as booked_value,
        sum(revenue) as revenue
    from funnel_days
    group by date_trunc('month', funnel_date)::date, sales_person_key, branch_key

),

resolved_calls as (

    select
        date_trunc('month', calls.performance_date)::date as performance_month,
        {{ field_crm_resolved_key('calls.sales_person', 'sales_person_variants') }} as sales_person_key,
        {{ field_crm_resolved_key('calls.branch', 'branch_variants') }} as branch_key,
        calls.calls_made,
        calls.calls_answered,
        calls.talk_minutes,
        calls.performance_date
    from calls
    {{ field_service_variant_joins('calls', ['sales_person', 'branch']) }}

),

call_totals as (

    select
        performance_month,
        sales_person_key,
        branch_key,
        coalesce(sum(calls_made), 0) as calls_made,
        coalesce(sum(calls_answered), 0) as calls_answered,
        coalesce(sum(talk_minutes), 0) as talk_minutes,
        count(distinct performance_date) as call_days_count
    from resolved_calls
    group by performance_month, sales_person_key, branch_key

),

final as (

    select
        coalesce(event_totals.performance_month, call_totals.performance_month) as performance_month,
        coalesce(event_totals.sales_person_key, call_totals.sales_person_key) as sales_person_key,
        coalesce(event_totals.branch_key, call_totals.branch_key) as branch_key,
        coalesce(event_totals.quotes_count, 0)::integer as quotes_count,
        coalesce(event_totals.bookings_count, 0)::integer as bookings_count,
        coalesce(event_totals.jobs_count, 0)::integer as jobs_count,
        coalesce(call_totals.calls_made, 0)::integer as calls_made,
        coalesce(call_totals.calls_answered, 0)::integer as calls_answered,
        coalesce(call_totals.talk_minutes, 0)::integer as talk_minutes,
        coalesce(call_totals.call_days_count, 0)::integer as call_days_count,
        coalesce(event_totals.booked_value, 0)::numeric(16, 2) as booked_value,
        coalesce(event_totals.revenue, 0)::numeric(16, 2) as revenue,
        {{ field_service_ratio('event_totals.bookings_count', 'event_totals.quotes_count') }}
            as bookings_per_quote_flow_rate,
        {{ field_service_ratio('call_totals.calls_answered', 'call_totals.calls_made') }} as call_answer_rate
    from event_totals
    full outer join call_totals
        on
            event_totals.performance_month = call_totals.performance_month
            and event_totals.sales_person_key = call_totals.sales_person_key
            and event_totals.branch_key = call_totals.branch_key

)

select * from final
