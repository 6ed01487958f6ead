{#-
  The incremental contract shared by every fact and funnel table.

  vars
    source_dt        reference date of the run, YYYY-MM-DD (default: today in business_timezone)
    backfill_period  days re-processed before source_dt by an incremental run (default 3)
    months           horizon of a full refresh, in calendar months back from source_dt's month
                     (default: all history)
    business_timezone IANA zone used to cut timestamps into dates and months (default UTC)

  An incremental run replaces exactly the window [source_dt - backfill_period, source_dt]
  (monthly models: every month that window touches, each recomputed whole from what its source holds for
  it, so a backfill of past days leaves a month consistent with the days already built after them). A full
  refresh builds everything up to source_dt (from the horizon start when `months` is set). Window bounds are
  half-open in SQL: date >= start and date < end + 1. A model that names late feeds (meta.window.late) also
  replaces the late days its keyed inputs rewrote before the window (macros/incremental_late.sql).
-#}

{% macro _fail_var(name, value, expected) -%}
    {{ exceptions.raise_compiler_error(
        "var " ~ name ~ '="' ~ (value | string) ~ '" is invalid: expected ' ~ expected) }}
{%- endmacro %}

{#- Parse a YYYY-MM-DD string strictly; fail naming the var otherwise. -#}
{% macro _parse_date(name, value) -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ _fail_var(name, value, "a date as YYYY-MM-DD, e.g. 2024-06-30") }}
    {%- endif -%}
    {%- set y, m, d = text[0:4] | int, text[5:7] | int, text[8:10] | int -%}
    {%- if y < 1 or m < 1 or m > 12 or d < 1 or d > 31 -%}
        {{ _fail_var(name, value, "a real calendar date as YYYY-MM-DD") }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date(y, m, 1) + modules.datetime.timedelta(days=d - 1) -%}
    {%- if parsed.month != m -%}
        {{ _fail_var(name, value, "a real calendar date as YYYY-MM-DD") }}
    {%- endif -%}
    {{ return(parsed) }}
{%- endmacro %}

{#-
  A run variable: `--vars` first (plain dbt), else the environment variable FUNNEL_VAR_<NAME>, read at execution
  only. The funnel CLI and Dagster pass a run's date and window that way: `--vars` that differ from the last
  parse make dbt re-parse the whole project (seconds at every size), an environment variable that the parse never
  read leaves its cache valid.
-#}
{% macro run_var(name, default=none) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('FUNNEL_VAR_' ~ (name | upper), '') | trim or none -%}
    {%- endif -%}
    {{ return(default if value is none else value) }}
{%- endmacro %}

{#-
  While dbt parses, a placeholder: what the parse stores (model configs such as the feeds of keyed models) must
  not carry a zone, since FUNNEL_VAR_BUSINESS_TIMEZONE can change without a new parse; keyed_config() puts the
  run's zone in.
-#}
{% macro business_timezone() -%}
    {%- if not execute -%}
        {{ return('__business_timezone__') }}
    {%- endif -%}
    {%- set tz = run_var('business_timezone', 'UTC') | string | trim -%}
    {%- if tz not in modules.pytz.all_timezones -%}
        {{ _fail_var('business_timezone', tz, "an IANA time zone name such as UTC or Europe/Berlin") }}
    {%- endif -%}
    {{ return(tz) }}
{%- endmacro %}

{#- The run's reference date as a python date. -#}
{% macro source_dt_date() -%}
    {%- set raw = run_var('source_dt') -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {%- set tz = business_timezone() if execute else 'UTC' -%}
        {{ return(modules.datetime.datetime.now(modules.pytz.timezone(tz)).date()) }}
    {%- endif -%}
    {{ return(_parse_date('source_dt', raw)) }}
{%- endmacro %}

{#- The run's reference date as YYYY-MM-DD text. -#}
{% macro source_dt() -%}
    {{ return(source_dt_date().isoformat()) }}
{%- endmacro %}

{#- The run's reference date as a SQL date literal. -#}
{% macro ref_date() -%}
    cast('{{ source_dt() }}' as date)
{%- endmacro %}

{% macro backfill_period() -%}
    {%- set raw = run_var('backfill_period', 3) | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{1,5}', raw) -%}
        {{ _fail_var('backfill_period', raw, "a whole number of days >= 0") }}
    {%- endif -%}
    {{ return(raw | int) }}
{%- endmacro %}

{% macro months_horizon() -%}
    {%- set raw = run_var('months') -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{1,4}', raw | string | trim) or (raw | int) < 1 -%}
        {{ _fail_var('months', raw, "a whole number of months >= 1, or unset for all history") }}
    {%- endif -%}
    {{ return(raw | int) }}
{%- endmacro %}

{#- First day of the month `n` months before `day`'s month. -#}
{% macro _month_start(day, n=0) -%}
    {%- set index = day.year * 12 + day.month - 1 - n -%}
    {{ return(modules.datetime.date(index // 12, index % 12 + 1, 1)) }}
{%- endmacro %}

{#-
  Window of this run as python dates: (start, end) inclusive; start is none for an all-history full refresh.
  grain='month' widens the window to whole months: start to the first day of its month, end to the last day
  of source_dt's month.
-#}
{% macro window_bounds(grain='day') -%}
    {#- every var is validated on every run, also those this run does not use (a first run is a full refresh) -#}
    {%- set end = source_dt_date() -%}
    {%- set backfill, horizon = backfill_period(), months_horizon() -%}
    {%- set late = window_late() -%}
    {%- if is_incremental() and not (late is not none and late.all) -%}
        {%- set start = end - modules.datetime.timedelta(days=backfill) -%}
        {%- if late is not none and late.onward_from is not none and late.onward_from < start -%}
            {%- set start = late.onward_from -%}
        {%- endif -%}
    {%- elif horizon is not none -%}
        {%- set start = _month_start(end, horizon - 1) -%}
    {%- else -%}
        {%- set start = none -%}
    {%- endif -%}
    {%- if grain == 'month' -%}
        {%- if start is not none -%}
            {%- set start = _month_start(start) -%}
        {%- endif -%}
        {%- set end = _month_start(end, -1) - modules.datetime.timedelta(days=1) -%}
    {%- endif -%}
    {{ return((start, end)) }}
{%- endmacro %}

{#-
  Predicate keeping `column` (a date, or a month-start date for grain='month') inside the run's window, and on
  the run's late days (macros/incremental_late.sql).
-#}
{% macro window_filter(column, grain='day') -%}
    {%- set start, end = window_bounds(grain) -%}
    {%- set late = window_late_filter(column, grain, start) -%}
    {%- if late is not none %}(({% endif -%}
    {%- if start is not none -%}
        {{ column }} >= cast('{{ start.isoformat() }}' as date) and
    {% endif -%}
    {{ column }} < cast('{{ (end + modules.datetime.timedelta(days=1)).isoformat() }}' as date)
    {%- if late is not none %}) or {{ late }}){% endif -%}
{%- endmacro %}

{#-
  window_filter for a timestamptz `column` whose business date (or month) must fall inside the run's window,
  written so that an index on the bare column serves it: casting the column to a date per row (as
  window_filter(to_business_date(col)) does) hides it from the index and scans all history every run.
  The range compares the column with midnight of the window bounds in business_timezone, widened by a day
  either side, and the exact date test is kept beside it: the result stays exact in every zone (also where
  a DST change makes midnight ambiguous), and the index reads at most a day more on each side.
-#}
{% macro window_filter_at(column, grain='day') -%}
    {%- set start, end = window_bounds(grain) -%}
    {%- if window_late_filter(to_business_date(column), grain, start) is not none -%}
        {#- the late days lie outside the range: the date test alone -#}
        {{ return(window_filter(to_business_date(column), grain)) }}
    {%- endif -%}
    {%- set tz = business_timezone() -%}
    {%- set after = end + modules.datetime.timedelta(days=1) -%}
    {%- if start is not none -%}
        {{ column }} >= cast('{{ (start - modules.datetime.timedelta(days=1)).isoformat() }}' as timestamp)
        at time zone '{{ tz }}' and
    {% endif -%}
    {{ column }} < cast('{{ (after + modules.datetime.timedelta(days=1)).isoformat() }}' as timestamp)
    at time zone '{{ tz }}'
    and {{ window_filter(to_business_date(column), grain) }}
{%- endmacro %}

{#-
  The shared config of every windowed incremental model, written once: a model declares only its grain
  (unique_key) and its window, then calls this macro, e.g.

      {{ config(unique_key=['date_day', 'deal_id'], meta={'window': {'column': 'date_day', 'grain': 'day'}}) }}
      {{ windowed_incremental() }}

  meta.window (column: the date column the window cuts, a month-start date for grain month; grain: day|month) is
  the one place the window is written: delete_window() reads it at run time, `funnel reconcile` and the tests
  read it from the manifest.

  Why the pre-hook delete and `append`, not `delete+insert`: the run must replace the whole window, also the
  dates whose rows all vanished upstream, so the window is deleted by its date predicate before the insert.
  delete+insert would then delete a second time, by the unique key of every new row (a join of the batch with
  the table that can only find rows the first delete already removed), and dbt's incremental_predicates cannot
  replace the first delete: they are ANDed with the key match, so a key missing from the batch is never
  deleted. Append after the window delete gives the same rows as delete+insert did, because on an incremental
  run every model selects only rows inside its window (its inputs are cut with window_filter on the same
  column and grain); the grain's unique test would catch a row outside it.
-#}
{% macro windowed_incremental() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_window() }}",
        post_hook="{{ window_record() }}",
    ) }}
{%- endmacro %}

{#- The window a model declares (config meta.window) as (column, grain); fails naming the model otherwise. -#}
{% macro declared_window() -%}
    {%- set window = (model.config.meta or {}).get('window') or {} -%}
    {%- set grain = window.get('grain', 'day') -%}
    {%- if not window.get('column') or grain not in ('day', 'month') -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": an incremental model declares its window as config meta.window = "
            ~ "{column: <date column>, grain: day|month}, got " ~ (window | string)) }}
    {%- endif -%}
    {{ return((window['column'], grain)) }}
{%- endmacro %}

{#-
  Pre-hook of windowed_incremental(): delete the whole window of the run (the model's meta.window), so a date
  whose rows all vanished upstream keeps no stale rows. The only delete of a run (the strategy appends).
  Runs in the model's transaction: readers see the old window or the new one, never a gap.
-#}
{% macro delete_window() -%}
    {#- The advisory lock serialises overlapping runs of one model (a schedule and a backfill, two plain dbt
        runs); it is released at commit or rollback, also when the client is killed. -#}
    {%- if is_incremental() -%}
        {%- set column, grain = declared_window() -%}
        select pg_advisory_xact_lock(hashtext('funnel.incremental.{{ this }}'));
        delete from {{ this }} where {{ window_filter(column, grain) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- A timestamptz cut into a date in the business time zone (DST-safe: Postgres converts each instant). -#}
{% macro to_business_date(ts) -%}
    cast({{ ts }} at time zone '{{ business_timezone() }}' as date)
{%- endmacro %}

{#- A timestamptz cut into the first day of its month in the business time zone. -#}
{% macro to_business_month(ts) -%}
    cast(date_trunc('month', {{ ts }} at time zone '{{ business_timezone() }}') as date)
{%- endmacro %}


{#- As of which day a table rebuilt whole each run (not windowed) is built. Normally source_dt. In an
    incremental run for a day before the latest build of this target (a backfill), that latest build's as-of
    date instead, so that a backfill never removes later history from such a table; a full refresh (and a unit
    test) is as of source_dt and resets it. The as-of date of each build is recorded by record_as_of()
    (on-run-end) in <intermediate schema>.funnel_build_as_of. -#}
{% macro as_of_date_value() -%}
    {%- set day = source_dt_date() -%}
    {%- if not execute or flags.FULL_REFRESH or (model is defined and model.resource_type == 'unit_test') -%}
        {{ return(day) }}
    {%- endif -%}
    {%- set latest = latest_as_of() -%}
    {{ return(latest if latest is not none and latest > day else day) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_date_value().isoformat() }}' as date)
{%- endmacro %}

{% macro as_of_relation() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('intermediate', none), identifier='funnel_build_as_of'
    )) }}
{%- endmacro %}

{#- The as-of date of the latest recorded build of this target, or none. -#}
{% macro latest_as_of() -%}
    {{ return(node_memo('latest as of', '_read_latest_as_of')) }}
{%- endmacro %}

{% macro _read_latest_as_of(unused=none) -%}
    {%- set relation = as_of_relation() -%}
    {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query("select as_of_date from " ~ relation ~ " order by recorded_at desc limit 1").rows -%}
    {{ return(rows[0][0] if rows else none) }}
{%- endmacro %}

{#- on-run-end: record the as-of date of a run or build that built models (not of tests, docs or seeds). -#}
{% macro record_as_of(results) -%}
    {%- if not execute or flags.WHICH not in ('run', 'build') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set built = results | selectattr('node.resource_type', 'equalto', 'model')
        | selectattr('status', 'equalto', 'success') | list -%}
    {%- if not built -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = as_of_relation() -%}
    create schema if not exists {{ relation.schema }};
    create table if not exists {{ relation }} (
        as_of_date date not null,
        source_dt date not null,
        full_refresh boolean not null,
        recorded_at timestamptz not null default clock_timestamp()
    );
    insert into {{ relation }} (as_of_date, source_dt, full_refresh)
    values ({{ as_of_date() }}, {{ ref_date() }}, {{ 'true' if flags.FULL_REFRESH else 'false' }})
{%- endmacro %}
