{#-
  Tests that cost the change. A generic test of a windowed incremental model (config meta.window) checks the rows
  an incremental run wrote: the run's window (source_dt - backfill_period .. source_dt, whole months for grain
  month), not all history; a test of a keyed model (config meta.keyed) the keys its last run rebuilt
  (macros/incremental_keys.sql: keyed_last_run_scope), all rows after a full rebuild; a test of a model with one
  row per raw row (config meta.test_scope: loads, e.g. privacy_raw_rows) the rows of the loads its base models
  took in their last runs (tested_loads). Every test checks everything
    - in a full refresh (`dbt build --full-refresh`, `funnel build --full-refresh`), and
    - when var test_scope is 'all' (Dagster's weekly dbt_full_tests_job, `funnel build --all-tests`).
  A test's own `where` config still applies, inside the window.

  dbt wraps the relation under test of every generic test in get_where_subquery(); this project's version adds
  the window. Singular tests (tests/<source>/*.sql) read their models directly and always check everything.
-#}

{#- Whether generic tests check the run's window only (the default) or all rows. -#}
{% macro test_scope() -%}
    {%- set scope = run_var('test_scope', 'window') | string | trim | lower -%}
    {%- if scope not in ('window', 'all') -%}
        {{ _fail_var('test_scope', scope, "window (tests check the rows of the run's window) or all") }}
    {%- endif -%}
    {{ return('all' if flags.FULL_REFRESH else scope) }}
{%- endmacro %}

{#- The node of the model a generic test checks; none when the test checks every row (test_scope all). -#}
{% macro _tested_node() -%}
    {%- if not execute or test_scope() == 'all' -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(graph.nodes.get(model.get('attached_node') or '')) }}
{%- endmacro %}

{#- The window (column, grain) of the windowed model a test checks, or none: all rows are checked. -#}
{% macro tested_window(relation) -%}
    {%- set node = _tested_node() -%}
    {%- if node is none or node.config.materialized != 'incremental' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set window = (node.config.meta or {}).get('window') -%}
    {{ return((window.column, window.get('grain', 'day')) if window and window.get('column') else none) }}
{%- endmacro %}

{#- The days an incremental run of `grain` replaces, as (start, end) inclusive python dates. -#}
{% macro run_window(grain='day') -%}
    {%- set end = source_dt_date() -%}
    {%- set start = end - modules.datetime.timedelta(days=backfill_period()) -%}
    {%- if grain == 'month' -%}
        {{ return((_month_start(start), _month_start(end, -1) - modules.datetime.timedelta(days=1))) }}
    {%- endif -%}
    {{ return((start, end)) }}
{%- endmacro %}

{#- A predicate keeping `column` inside the run's window of `grain`. -#}
{% macro run_window_filter(column, grain='day') -%}
    {%- set start, end = run_window(grain) -%}
    {{ column }} >= cast('{{ start.isoformat() }}' as date)
    and {{ column }} < cast('{{ (end + modules.datetime.timedelta(days=1)).isoformat() }}' as date)
{%- endmacro %}

{#-
  The late days the tested windowed model's last run replaced outside its window (macros/incremental_late.sql), as a
  predicate on `column`; 'all' when that run replaced every day; none when there were none.
-#}
{% macro tested_late_days(column, grain) -%}
    {%- set node = _tested_node() -%}
    {%- if node is none or not ((node.config.meta or {}).get('window') or {}).get('late') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- set state = _window_relation_state(_keyed_name(relation)) -%}
    {%- if state is none or state.every_day -%}
        {{ return('all') }}
    {%- endif -%}
    {%- if state.late_days == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set days = "(select late_days from " ~ _window_state_relation() ~ " where relation_name = '"
        ~ _keyed_name(relation) ~ "')" -%}
    {%- if grain == 'month' -%}
        {{ return(column ~ " = any(array(select cast(date_trunc('month', late_day) as date) from unnest(" ~ days
            ~ ") as late_day))") }}
    {%- endif -%}
    {#- cast(... as date[]): an array expression; any((select ...)) would compare with the rows instead -#}
    {{ return(column ~ ' = any(cast(' ~ days ~ ' as date[]))') }}
{%- endmacro %}

{#- The keys a keyed model's last run rebuilt, as a predicate; none when all rows are to be checked. -#}
{% macro tested_keys() -%}
    {%- set node = _tested_node() -%}
    {%- if node is none or not keyed_config(node) -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(keyed_last_run_scope(node)) }}
{%- endmacro %}

{#-
  For a view over base models that are keyed by load: a predicate on what the loads those bases took in their last
  runs carry; none (all rows) when one of them ran in full or never ran.
    meta.test_scope 'loads'             the rows of those loads (a model of one row per raw row: privacy_raw_rows);
    meta.test_scope {column: lead_id}   the rows whose lead_id one of those loads carries, and the rows without one
                                        (a staged view: a new load can stage a key or unstage one of its versions,
                                        so a key it does not carry keeps its rows as the last test saw them).
    {column: deal_id, loads_of: [base models], keys_of: [keyed models]}
                                        for a view further down: the values of `column` that the loads of the
                                        named base models carry (instead of the view's own base parents), and the
                                        keys the last runs of the named keyed models (keyed by that value) rebuilt,
                                        e.g. the deals of a view over a deal timeline and activities.
  Values are listed, not bounded by one mark (load ids are global). Keys are thousands: a semi-join (`in (select
  ...)`; an array of them compared with each row of a column without an index took 163 s for one test at L). Loads
  and files are a few: `= any(array(...))`, which reaches into a view's union and grouping where a semi-join does
  not ({column: _source_file, lookup: true}).
  A changed seed or model is not a load: a build whose project files changed tests every row (build_state).
-#}
{% macro tested_loads() -%}
    {%- set node = _tested_node() -%}
    {%- set scope = (node.config.meta or {}).get('test_scope') if node is not none else none -%}
    {%- set column = '_load_id' if scope == 'loads' else (scope.get('column') if scope is mapping else none) -%}
    {%- if column is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set loads = [] -%}
    {%- set named = scope.get('loads_of') if scope is mapping else none -%}
    {%- for parent_id in node.depends_on.nodes if not named -%}
        {%- do loads.extend(_tested_base_loads(graph.nodes.get(parent_id), column)) -%}
    {%- endfor -%}
    {%- for name in named or [] -%}
        {%- do loads.extend(_tested_base_loads(_tested_model_node(name), column)) -%}
    {%- endfor -%}
    {%- for name in (scope.get('keys_of') if scope is mapping else none) or [] -%}
        {%- do loads.append(_tested_rewritten_keys(_tested_model_node(name))) -%}
    {%- endfor -%}
    {%- if not loads or loads | select('none') | list -%}
        {{ return(none) }}
    {%- endif -%}
    {#- a raw row always has a load (raw tables: _load_id not null), and `or _load_id is null` would turn the
        index lookups of the view's union into scans of every base table -#}
    {%- if scope == 'loads' -%}
        {{ return(column ~ ' = any(array(' ~ loads | join(' union ') ~ '))') }}
    {%- elif scope.get('lookup') -%}
        {{ return('(' ~ column ~ ' = any(array(' ~ loads | join(' union ') ~ ')) or ' ~ column ~ ' is null)') }}
    {%- endif -%}
    {{ return('(' ~ column ~ ' in (' ~ loads | join(' union ') ~ ') or ' ~ column ~ ' is null)') }}
{%- endmacro %}

{#- The model node named `name`. -#}
{% macro _tested_model_node(name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('test_scope: no model ' ~ name) }}
{%- endmacro %}

{#- [a select of `column` in the rows of the loads base model `node` took in its last run], [] when it is not a
    base model keyed by load, [none] when that run was a full one (or it never ran): every row is to be checked. -#}
{% macro _tested_base_loads(node, column) -%}
    {%- set keyed = keyed_config(node) if node is not none else none -%}
    {%- if not (keyed and keyed.by_load) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- set state = keyed_state(_keyed_name(relation)) -%}
    {%- if state is none or state.mode == 'full' -%}
        {{ return([none]) }}
    {%- endif -%}
    {{ return(['select ' ~ column ~ ' from ' ~ relation ~ ' where _load_id > '
        ~ (state.previous_load_marks.get(node.alias) or 0)]) }}
{%- endmacro %}

{#- A select of the keys keyed model `node`'s last run rebuilt, or none when it ran in full (or never ran). -#}
{% macro _tested_rewritten_keys(node) -%}
    {%- set key_type = keyed_rewritten_key_type(node) -%}
    {%- if key_type is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return('select cast(rebuilt_key as ' ~ key_type ~ ') from ' ~ _keyed_bookkeeping('funnel_keyed_rewritten')
        ~ ", unnest(affected_keys) as rebuilt (rebuilt_key) where relation_name = '" ~ _keyed_name(api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias)) ~ "'") }}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set window = tested_window(relation) -%}
    {%- set keys = tested_keys() -%}
    {%- set loads = tested_loads() -%}
    {%- set predicates = [] -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set late = tested_late_days(window[0], window[1]) if window is not none else none -%}
    {%- if window is not none and late != 'all' -%}
        {%- do predicates.append(
            '(' ~ run_window_filter(window[0], window[1]) ~ (' or ' ~ late if late else '') ~ ')'
        ) -%}
    {%- endif -%}
    {%- if keys is not none -%}
        {%- do predicates.append('(' ~ keys ~ ')') -%}
    {%- endif -%}
    {%- if loads is not none -%}
        {%- do predicates.append(loads) -%}
    {%- endif -%}
    {%- if not predicates -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ predicates | join(' and ') }}) as dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}
