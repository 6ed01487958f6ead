{#-
  Generic test: additive measures of a monthly model equal the sum of their daily rows.

  For every month (and every combination of `group_by` columns) present in either model,
  sum(monthly measure) must equal sum(daily measure) over the days of that month, within `tolerance`.
  A month or group present on one side only fails too (its other side sums to 0).

  arguments
    daily_model          ref() of the daily model
    measures             list of column names present in both models, or a mapping monthly_column: daily_column
    monthly_date_column  first-day-of-month date column of the monthly model (default date_month)
    daily_date_column    date column of the daily model (default date_day)
    group_by             dimension columns present in both models (default none)
    tolerance            allowed absolute difference (default 0: exact)

  Usage (in the monthly model's YAML):
    data_tests:
      - running_sum_matches:
          arguments:
            daily_model: ref('int_deal_stats_daily')
            group_by: [funnel_step]
            measures: {deals_count: deals_first_in_month_count, stage_entries_count: stage_entries_count}
-#}
{% test running_sum_matches(
    model,
    daily_model,
    measures,
    monthly_date_column='date_month',
    daily_date_column='date_day',
    group_by=[],
    tolerance=0
) %}

{%- if measures is mapping -%}
    {%- set pairs = measures.items() | list -%}
{%- else -%}
    {%- set pairs = [] -%}
    {%- for name in measures -%}
        {%- do pairs.append((name, name)) -%}
    {%- endfor -%}
{%- endif -%}
{%- set dims = group_by | list -%}

with monthly as (

    select
        {{ monthly_date_column }} as month_date,
        {%- for dim in dims %}
        {{ dim }},
        {%- endfor %}
        {%- for monthly_column, daily_column in pairs %}
        coalesce({{ monthly_column }}, 0) as monthly_{{ loop.index }},
        0 as daily_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

daily as (

    select
        cast(date_trunc('month', {{ daily_date_column }}) as date) as month_date,
        {%- for dim in dims %}
        {{ dim }},
        {%- endfor %}
        {%- for monthly_column, daily_column in pairs %}
        0 as monthly_{{ loop.index }},
        coalesce({{ daily_column }}, 0) as daily_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ daily_model }}
    {#- the monthly side checks the run's months (and late months) only (macros/tests/test_scope.sql): so does
        the daily side -#}
    {%- set window = tested_window(model) %}
    {%- set late = tested_late_days(
        "cast(date_trunc('month', " ~ daily_date_column ~ ") as date)", 'month'
    ) if window is not none else none %}
    {%- if window is not none and late != 'all' %}
    where ({{ run_window_filter(daily_date_column, 'month') }}){{ ' or ' ~ late if late else '' }}
    {%- endif %}

),

both_sides as (

    select * from monthly
    union all
    select * from daily

),

final as (

    select
        month_date,
        {%- for dim in dims %}
        {{ dim }},
        {%- endfor %}
        {%- for monthly_column, daily_column in pairs %}
        sum(monthly_{{ loop.index }}) as {{ monthly_column }}_monthly,
        sum(daily_{{ loop.index }}) as {{ monthly_column }}_sum_of_daily{{ ',' if not loop.last }}
        {%- endfor %}
    from both_sides
    group by month_date{% for dim in dims %}, {{ dim }}{% endfor %}
    having
        {%- for monthly_column, daily_column in pairs %}
        abs(sum(monthly_{{ loop.index }}) - sum(daily_{{ loop.index }})) > {{ tolerance }}
        {{- ' or' if not loop.last }}
        {%- endfor %}

)

select * from final

{% endtest %}
