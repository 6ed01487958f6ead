{{ config(
    unique_key=['funnel_month', 'lead_source_key', 'branch_key', 'sales_person_key', 'region'],
    meta={'window': {'column': 'funnel_month', 'grain': 'month', 'late': [
        {'model': 'fct_lead_conversions', 'column': 'event_date'},
    ]}},
) }}
{{ windowed_incremental() }}
{#-
  lead_funnel_daily rolled up to business months (funnel_month = first day), flow ratios recomputed from the
  sums. A run replaces every month the daily window and late days touch (macros/incremental_late.sql),
  re-summed from all the daily rows of that month.
-#}
with

daily as (

    {{ selected_columns(
        ref('lead_funnel_daily'),
        ['funnel_date', 'lead_source_key', 'branch_key', 'sales_person_key', 'region']
        + lead_funnel_counts() + ['booked_value', 'revenue', 'data_retention_date'],
        where=window_filter('funnel_date', 'month'),
    ) }}

),

summed as (

    select
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        date_trunc('month', funnel_date)::date as funnel_month,
        {%- for measure in lead_funnel_counts() + ['booked_value', 'revenue'] %}
            sum({{ measure }}) as {{ measure }},
        {%- endfor %}
        max(data_retention_date) as data_retention_date
    from daily
    group by date_trunc('month', funnel_date)::date, lead_source_key, branch_key, sales_person_key, region

),

final as (

    {{ lead_funnel_final('funnel_month', 'summed') }}

)

select * from final
