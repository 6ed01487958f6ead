{#-
  Helpers of the Pipedrive funnel models (models/*/funnel): the parts every windowed funnel table writes the
  same way, written once. Each renders plain SQL; the models keep their import CTEs and `final` CTE.
-#}

{#-
  config of a windowed incremental funnel table in one call: its grain (unique_key) and its window
  (meta.window, read by delete_window(), `funnel reconcile` and the tests), then windowed_incremental().
-#}
{% macro funnel_windowed_config(unique_key, window_column, grain) -%}
    {{ config(unique_key=unique_key, meta={'window': {'column': window_column, 'grain': grain}}) }}
    {{ windowed_incremental() }}
{%- endmacro %}

{#-
  Body of an import CTE that reads the rows of `relation` inside the run's window: `columns` as they are,
  `date_month` (the month start of `month_of`) when month_of is given, cut by window_filter(window_column,
  grain), ANDed with `where` when given. A monthly roll-up reads whole months of its daily input this way.
-#}
{% macro funnel_window_rows(relation, columns, window_column, grain, where=none, month_of=none) -%}
    {%- set month = [crm_month_start(month_of) ~ ' as date_month'] if month_of is not none else [] -%}
    {%- set window = window_filter(window_column, grain) -%}
    {{ selected_columns(relation, columns + month, where=(where ~ ' and ' ~ window) if where is not none else window) }}
{%- endmacro %}

{#-
  The step credits of a monthly roll-up, as two CTEs (step_reaches, then credited): a deal that reaches a funnel
  step several times in a month (several days, several `key`s) is credited once, to the `key` of its first day
  in the month (the lowest `key` that day). Reads CTE `daily` (date_day, date_month, deal_id, funnel_step,
  `key`), restricted by `where`; gives credited (date_month, `key`, deals_reached_step_count).
-#}
{% macro funnel_step_credits(key, where) -%}
step_reaches as (

    select
        date_month,
        {{ key }},
        row_number() over (
            partition by deal_id, funnel_step, date_month
            order by date_day, {{ key }}
        ) as step_rank_in_month
    from daily
    where {{ where }}

),

credited as (

    select
        date_month,
        {{ key }},
        count(*) as deals_reached_step_count
    from step_reaches
    where step_rank_in_month = 1
    group by
        date_month,
        {{ key }}

)
{%- endmacro %}

{#- Join condition matching `left` and `right` on every column of `keys` (each named alike on both sides). -#}
{% macro funnel_join_keys(left, right, keys) -%}
    {%- for key in keys %}
            {% if not loop.first %}and {% endif %}{{ left }}.{{ key }} = {{ right }}.{{ key }}
    {%- endfor %}
{%- endmacro %}

{#-
  The value of `column` at the first (pick='first') or latest (pick='latest') change of field `field_key` in
  the group, from stg_pipedrive__deal_changes rows (ties broken by the change id); null when the group has no
  such change. An aggregate expression: use it in a select grouped by deal (or deal episode).
-#}
{% macro funnel_change_value(column, field_key, pick='latest') -%}
    {%- set direction = {'first': 'asc', 'latest': 'desc'}[pick] -%}
    (
        array_agg({{ column }} order by changed_at {{ direction }}, deal_change_id {{ direction }})
        filter (where changed_field_key = '{{ field_key }}')
    )[1]
{%- endmacro %}

{#-
  Body of an import CTE: every activity type (stg_pipedrive__activity_types) with the given columns and the
  funnel step its name reaches (seed funnel_steps, reached_by done_activity, names compared trimmed and
  case-insensitive; null when none). The one place an activity type is mapped to its step.
-#}
{% macro funnel_activity_type_steps(columns) -%}
    select
        {%- for column in columns %}
        activity_types.{{ column }},
        {%- endfor %}
        funnel_steps.funnel_step
    from {{ ref('stg_pipedrive__activity_types') }} as activity_types
    left join {{ ref('funnel_steps') }} as funnel_steps
        on
            funnel_steps.reached_by = 'done_activity'
            and lower(activity_types.activity_type_name) = lower(btrim(funnel_steps.activity_type_name))
{%- endmacro %}

{#-
  Body of an import CTE: the funnel step each stage reaches on entry (seed funnel_steps, reached_by
  stage_change), as (funnel_step, stage_id). The stage counterpart of funnel_activity_type_steps.
-#}
{% macro funnel_stage_steps() -%}
    select
        funnel_step,
        stage_id
    from {{ ref('funnel_steps') }}
    where reached_by = 'stage_change'
{%- endmacro %}
