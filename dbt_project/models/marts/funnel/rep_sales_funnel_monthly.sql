{#-
  The BI funnel: per business month and funnel step, the number of distinct deals that reached the step in
  that month. A complete month x step grid: a step nobody reached shows 0. Months run from the first month
  with a Pipedrive stage change or activity (or the `months` horizon) to source_dt's month. Incremental,
  window delete + insert of the months the run's window touches; see docs/funnel.md for each KPI's exact definition.
-#}
{{ funnel_windowed_config(['month', 'funnel_step'], 'month', 'month') }}

{%- set window_start, window_end = window_bounds('month') %}
{#- The first month comes from all of history (int_funnel_history_bounded), not from int_funnel_stats_monthly: a
    run only sees its window there, so an event landing late with a date before every window built (a 1900 typo)
    would start a full refresh's grid earlier than an incremental one's. -#}
{%- set first_month = "(select " ~ to_business_month('min(first_event_at)') ~ " from "
    ~ ref('int_funnel_history_bounded') ~ ")" %}
{%- if window_start is none %}
    {#- full refresh over all history -#}
    {%- set series_start = first_month %}
{%- else %}
    {#- never before the first month with data, so a window reaching back before it equals a full refresh;
        with no data at all the series stays empty (greatest() would ignore the null) -#}
    {%- set series_start = "(select case when first_month is not null then greatest(cast('"
        ~ window_start.isoformat() ~ "' as date), first_month) end from " ~ first_month ~ " as f(first_month))" %}
{%- endif %}

with

int_funnel_stats_monthly as (

    {{ funnel_window_rows(
        ref('int_funnel_stats_monthly'), ['date_month', 'funnel_step', 'deals_count'], 'date_month', 'month'
    ) }}

),

funnel_steps as (

    select
        funnel_step,
        step_order,
        kpi_name
    from {{ ref('funnel_steps') }}

),

months as (

    select cast(month_start as date) as month_date
    from generate_series(
        cast({{ series_start }} as timestamp),
        cast(date_trunc('month', cast({{ ref_date() }} as timestamp)) as timestamp),
        interval '1 month'
    ) as month_start

),

grid as (

    select
        months.month_date,
        funnel_steps.funnel_step,
        funnel_steps.step_order,
        funnel_steps.kpi_name
    from months
    cross join funnel_steps

),

final as (

    select
        -- the BI contract names this column `month` (a non-reserved keyword in PostgreSQL)
        grid.month_date as month,  -- noqa: RF04
        grid.kpi_name,
        grid.funnel_step,
        cast(coalesce(int_funnel_stats_monthly.deals_count, 0) as bigint) as deals_count
    from grid
    left join int_funnel_stats_monthly
        on
            grid.month_date = int_funnel_stats_monthly.date_month
            and grid.funnel_step = int_funnel_stats_monthly.funnel_step

)

select * from final
