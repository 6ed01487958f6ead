{#-
  Late days of a windowed model: facts dated before a run's window that landed or changed since the model's last
  run (a booking for a lead created weeks ago moves that day's quote count; a job reported done late; a new
  version of an old day's call metrics). Without them a windowed table would stay different from a full refresh
  until a window covered those days again.

  A windowed model names the keyed models it reads whose rewritten rows carry such a date:

      meta={'window': {'column': 'funnel_date', 'grain': 'day',
                       'late': [{'model': 'fct_lead_conversions', 'column': 'event_date'}]}}

  Each feed's model logs `column` (keyed_incremental(log=[...]): the values of the rows each of its runs changed,
  before and after). An incremental run also replaces the logged days since the model's last run that fall before
  its window and on or before source_dt (their months for grain month); with `onward: true` every day from the
  earliest of them (a running figure: cumulative customers). Days after source_dt are not in the table yet; a window
  covers them when their day comes, and a run after a gap (its source_dt more than backfill_period days after the
  last run's) covers every day since that run's source_dt. The run replaces everything (from the `months` horizon
  when set) when it cannot know the days: a feed's runs since then include a full one or were pruned from its log,
  or the model never recorded what it consumed. A run for a day before the latest build's as-of date (a backfill)
  replaces its window only and leaves the late days to the next run for the latest day.

  What a run consumed (the feeds' run numbers) and the late days it replaced (for its tests:
  macros/tests/test_scope.sql) are kept in <intermediate schema>.funnel_window_state, written by the post-hook
  window_record() in the model's transaction.
-#}

{#- The late feeds of the model being run, or []. -#}
{% macro _window_late_feeds() -%}
    {%- if model is not defined or model is not mapping -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return((((model.get('config') or {}).get('meta') or {}).get('window') or {}).get('late') or []) }}
{%- endmacro %}

{% macro _window_state_relation() -%}
    {{ return(_keyed_bookkeeping('funnel_window_state')) }}
{%- endmacro %}

{#-
  This run's late days as {'all': bool, 'days': [dates of feeds without onward], 'onward_from': date or none,
  'marks': {feed model: last run number consumed} or none (a backfill: nothing consumed)}; none for a run that is
  not incremental or a model without late feeds.
-#}
{% macro window_late() -%}
    {%- set feeds = _window_late_feeds() -%}
    {%- if not execute or not feeds or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(node_memo('window late', '_window_read_late', feeds)) }}
{%- endmacro %}

{% macro _window_read_late(feeds) -%}
    {%- set end = source_dt_date() -%}
    {%- set latest = latest_as_of() -%}
    {%- if latest is not none and end < latest -%}
        {{ return({'all': false, 'days': [], 'onward_from': none, 'marks': none}) }}
    {%- endif -%}
    {%- set state = _window_relation_state(_keyed_name(this)) -%}
    {%- set consumed = state.marks if state is not none else none -%}
    {%- set log = _keyed_bookkeeping('funnel_keyed_log') -%}
    {#- the days after the last run's source_dt were not built yet: a run after a gap covers them too -#}
    {%- set late = namespace(
        all=consumed is none, days=[],
        onward_from=state.as_of_date + modules.datetime.timedelta(days=1) if state is not none else none,
    ) -%}
    {%- set marks = {} -%}
    {%- for feed in feeds -%}
        {%- set mark = consumed.get(feed.model) if consumed is not none else none -%}
        {%- set runs = _keyed_parent_runs(feed.model, mark) -%}
        {%- if runs.full -%}
            {%- set late.all = true -%}
        {%- endif -%}
        {%- set name = _keyed_name(_keyed_relation(feed.model)) -%}
        {%- set last = run_query('select ' ~ _keyed_last_run(feed.model)).rows[0][0] if _keyed_exists(log) else 0 -%}
        {%- do marks.update({feed.model: last}) -%}
        {%- if not late.all and mark is not none and last > mark -%}
            {%- set days = run_query(
                "select distinct cast(logged_value as date) from " ~ log ~ ", jsonb_array_elements_text(logged -> '"
                ~ feed.column ~ "') as logged (logged_value) where relation_name = '" ~ name ~ "' and run_number > "
                ~ mark ~ " and run_number <= " ~ last ~ " and cast(logged_value as date) <= cast('" ~ end.isoformat()
                ~ "' as date) order by 1"
            ).columns[0].values() | list -%}
            {%- if feed.get('onward') and days -%}
                {%- set late.onward_from = [days[0], late.onward_from or days[0]] | min -%}
            {%- else -%}
                {%- do late.days.extend(days) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({
        'all': late.all, 'days': late.days | unique | sort | list, 'onward_from': late.onward_from, 'marks': marks,
    }) }}
{%- endmacro %}

{#-
  The recorded state of windowed model `name` (schema.identifier) as {'marks', 'every_day': its last run replaced
  every day, 'late_days': how many late days it replaced}, or none.
-#}
{% macro _window_relation_state(name) -%}
    {%- set relation = _window_state_relation() -%}
    {%- if not _keyed_exists(relation) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select log_marks::text, late_days is null, coalesce(cardinality(late_days), 0), as_of_date from " ~ relation
        ~ " where relation_name = '" ~ name ~ "'"
    ).rows -%}
    {{ return({
        'marks': fromjson(rows[0][0]), 'every_day': rows[0][1], 'late_days': rows[0][2], 'as_of_date': rows[0][3],
    } if rows else none) }}
{%- endmacro %}

{#-
  `column` (a date; a month-start date for grain month) on one of this run's late days that its window does not
  hold already, as a predicate ORed to the window's; none when there are none. A list of days, or of month ranges:
  an index on the column serves either.
-#}
{% macro window_late_filter(column, grain, window_start) -%}
    {%- set late = window_late() -%}
    {%- if late is none or late.all or not late.days -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set days = late.days | select('lt', window_start) | list if window_start is not none else [] -%}
    {%- if not days -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set predicates = [] -%}
    {%- if grain == 'month' -%}
        {%- set months = [] -%}
        {%- for day in days -%}
            {%- if _month_start(day) not in months -%}
                {%- do months.append(_month_start(day)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for month in months -%}
            {%- do predicates.append(
                '(' ~ column ~ " >= cast('" ~ month.isoformat() ~ "' as date) and " ~ column ~ " < cast('"
                ~ _month_start(month, -1).isoformat() ~ "' as date))"
            ) -%}
        {%- endfor -%}
    {%- else -%}
        {%- set literals = [] -%}
        {%- for day in days -%}
            {%- do literals.append("cast('" ~ day.isoformat() ~ "' as date)") -%}
        {%- endfor -%}
        {%- do predicates.append(column ~ ' in (' ~ literals | join(', ') ~ ')') -%}
    {%- endif -%}
    {{ return(predicates | join(' or ')) }}
{%- endmacro %}

{#-
  Post-hook of a windowed model with late feeds: record what the run consumed and the late days it replaced, in
  its transaction (none recorded: it replaced every day). A backfill run consumed nothing: it keeps the marks and
  records no late day.
-#}
{% macro window_record() -%}
    {%- set feeds = _window_late_feeds() -%}
    {%- if not execute or not feeds -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set relation = _window_state_relation() -%}
    {%- set name = _keyed_name(this) -%}
    {%- set late = window_late() -%}
    {%- if late is not none and late.marks is none -%}
        {{ return(
            "update " ~ relation ~ " set late_days = '{}', recorded_at = clock_timestamp()"
            ~ " where relation_name = '" ~ name ~ "'"
        ) }}
    {%- endif -%}
    {%- set marks = [] -%}
    {%- if late is not none -%}
        {%- for feed_model, mark in late.marks.items() -%}
            {%- do marks.append("'" ~ feed_model ~ "', " ~ mark) -%}
        {%- endfor -%}
    {%- else -%}
        {#- a full build read every row its feeds held: their last runs so far -#}
        {%- set logged = _keyed_exists(_keyed_bookkeeping('funnel_keyed_log')) -%}
        {%- for feed in feeds -%}
            {%- do marks.append("'" ~ feed.model ~ "', " ~ (_keyed_last_run(feed.model) if logged else '0')) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if late is none or late.all -%}
        {%- set late_days = 'null' -%}
    {%- else -%}
        {#- the days written outside the run's own window, for its tests -#}
        {%- set start = run_window('day')[0] -%}
        {%- set literals = [] -%}
        {%- for day in late.days if day < start -%}
            {%- do literals.append("'" ~ day.isoformat() ~ "'") -%}
        {%- endfor -%}
        {%- if late.onward_from is not none and late.onward_from < start -%}
            {%- set day = late.onward_from -%}
            {%- for offset in range((start - day).days) -%}
                {%- do literals.append("'" ~ (day + modules.datetime.timedelta(days=offset)).isoformat() ~ "'") -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set late_days = "cast(array[" ~ literals | join(', ') ~ "]::text[] as date[])" -%}
    {%- endif -%}
    {%- set sql -%}
    select pg_advisory_xact_lock(hashtext('funnel.window_state'));
    create schema if not exists {{ relation.schema }};
    create table if not exists {{ relation }} (
        relation_name text primary key,
        log_marks jsonb not null,
        late_days date[],
        as_of_date date not null,
        recorded_at timestamptz not null default clock_timestamp()
    );
    insert into {{ relation }} as state (relation_name, log_marks, late_days, as_of_date)
    values ('{{ name }}', jsonb_build_object({{ marks | join(', ') }}), {{ late_days }}, {{ ref_date() }})
    on conflict (relation_name) do update set
        log_marks = excluded.log_marks,
        late_days = excluded.late_days,
        as_of_date = excluded.as_of_date,
        recorded_at = clock_timestamp()
    {%- endset -%}
    {{ return(sql) }}
{%- endmacro %}
