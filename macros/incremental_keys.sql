{#-
  The keyed incremental contract: tables whose rows belong to an entity (a deal, an activity, a quote, a
  customer, a day of a roll-up, a copy group of raw rows) and are rebuilt per entity, so that a run costs what
  changed, not the history.

  A keyed model declares its key and where its changes come from, then reads its inputs through keyed_filter():

      {{ keyed_incremental(key='deal_id', source='pipedrive',
          changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}],
          events=[{'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'}]) }}
      ... from {{ ref('stg_pipedrive__deal_changes') }} where {{ keyed_filter('deal_id') }}

  A run is one of two modes (keyed_mode()):
    full  the first build, --full-refresh, or a change nobody can trace to keys (the model's generation moved,
          see keyed_generation(): a `--replace` load or a new load of a lookup table of its source, another var
          regions or business_timezone; or a parent's last runs were full). keyed_filter()
          is `true`; an existing table is truncated in the run's transaction (pre-hook) and refilled.
    keys  the affected keys (keyed_affected_keys()) are deleted and rebuilt, in one transaction. Feeds:
            changes  {model, key}: keys of the rows of `model` (a base model: every raw row, whatever its
                     disposition) that loads after the last run brought (_load_id above the mark this model
                     recorded for it);
            events   {model, key, at | on}: keys with an event (instant column `at`, or date column `on`) from
                     the as-of date of the last run to the end of this run's (macros/incremental_window.sql:
                     as_of_date), for a model that cuts its history at the as-of date. A backfill of past days
                     keeps the as-of date;
            parents  {model, column, type?, key?}: the values of `column` in the rows a keyed parent changed
                     since this model's last run, before and after (the parent logs them: its `log` columns;
                     a row its run wrote back as it was is no change),
                     cast to `type`; `key`, an expression of `logged_value`, maps them to the model's key;
            as_of_keys: the keys of the days the as-of date moved over (an expression of `as_of_day`), for a
                     model that reads the as-of date itself.
          A feed's keys can be mapped to the model's key through other models: through=[model, from, to], or a
          list of such hops (e.g. the deals a load touched -> the ids of their activities).
          A base model (by_load=true) takes the raw rows of loads it does not hold yet and re-derives the
          dispositions of the copy groups / keys they touch (macros/staging); its affected keys are the keys
          of the rows it wrote.
  Either way the result equals a full refresh as of the same day (tests/test_reliability_properties.py).
  What a run consumed is recorded in <intermediate schema>.funnel_keyed_state, what it changed (the `log`
  columns) in funnel_keyed_log and the keys it rewrote in funnel_keyed_rewritten (post-hook, same transaction as
  its writes); generic tests of a keyed model check those keys (macros/tests/test_scope.sql).
  Not seen: seeds and code (funnel build and Dagster rebuild what an edit reaches with --full-refresh,
  orchestration/core/build_state.py) and SQL by hand.
-#}

{% macro keyed_incremental(
    key, source, changes=[], events=[], parents=[], as_of_keys=none, log=[], by_load=false
) -%}
    {#- the models the feeds read are dependencies (a unit test gives only what the model's SQL reads); a parent
        is upstream through the model's SQL already (and may be private to its group) -#}
    {%- if model.resource_type != 'unit_test' -%}
        {%- for feed in changes + events -%}
            {%- do ref(feed.model) -%}
            {%- for hop in _keyed_hops(feed) if hop[0] != model.name -%}
                {%- do ref(hop[0]) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {#- on_schema_change: a run's batch is typed by its SQL (numeric), a contracted table by its contract
        (numeric(16, 2)), so only a new column counts as a change; a lost one fails the insert, and an edited
        model is rebuilt whole anyway (the build ledger) -#}
    {{ config(
        materialized='incremental',
        incremental_strategy='keyed',
        unique_key=key,
        on_schema_change='append_new_columns',
        meta={'keyed': {
            'key': key, 'source': source, 'changes': changes, 'events': events, 'parents': parents,
            'as_of_keys': as_of_keys, 'log': log, 'by_load': by_load,
        }},
        pre_hook="{{ keyed_prepare() }}",
        post_hook="{{ keyed_record() }}",
    ) }}
{%- endmacro %}

{#-
  The keyed config of the model being run (or of `node`), or none; its expressions in the run's business time
  zone (the parse stored a placeholder, see business_timezone()).
-#}
{% macro keyed_config(node=none) -%}
    {%- set node = node or model -%}
    {%- set keyed = ((node.config or {}).get('meta') or {}).get('keyed') -%}
    {%- if keyed is none or not execute -%}
        {{ return(keyed) }}
    {%- endif -%}
    {{ return(node_memo('config ' ~ node.unique_id, '_keyed_config_in_zone', keyed)) }}
{%- endmacro %}

{% macro _keyed_config_in_zone(keyed) -%}
    {{ return(fromjson(tojson(keyed) | replace('__business_timezone__', business_timezone()))) }}
{%- endmacro %}

{#-
  The value of macro `macro_name`(`argument`) computed once per node context (the node's SQL, and its
  materialization with its hooks, each render in a context of their own): a keyed model asks for its mode, state,
  keys and as-of date from many macros, and each answer costs queries. The memo lives in the context's `model`
  dict, a copy made for that context; outside a node (on-run-end) nothing is kept.
-#}
{% macro node_memo(memo_key, macro_name, argument=none) -%}
    {%- if model is not defined or model is not mapping -%}
        {{ return(context[macro_name](argument)) }}
    {%- endif -%}
    {%- if model.get('_node_memo') is none -%}
        {%- do model.update({'_node_memo': {}}) -%}
    {%- endif -%}
    {%- set memo = model.get('_node_memo') -%}
    {%- if memo_key not in memo -%}
        {%- do memo.update({memo_key: context[macro_name](argument)}) -%}
    {%- endif -%}
    {{ return(memo[memo_key]) }}
{%- endmacro %}

{#- A feed's hops as a list of [model, from, to] (none, one or several). -#}
{% macro _keyed_hops(feed) -%}
    {%- set through = feed.get('through') or [] -%}
    {{ return([through] if through and through[0] is string else through) }}
{%- endmacro %}

{#- The relation of model `name` of this project, from the graph (a test may read a model it does not ref). -#}
{% macro _keyed_relation(name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('keyed feed: no model ' ~ name) }}
{%- endmacro %}

{% macro _keyed_name(relation) -%}
    {{ return(relation.schema ~ '.' ~ relation.identifier) }}
{%- endmacro %}

{% macro _keyed_bookkeeping(identifier) -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('intermediate', none), identifier=identifier
    )) }}
{%- endmacro %}

{% macro _keyed_exists(relation) -%}
    {{ return(adapter.get_relation(relation.database, relation.schema, relation.identifier) is not none) }}
{%- endmacro %}

{#- The recorded state of relation `name` (schema.identifier) as a dict, or none. -#}
{% macro keyed_state(name) -%}
    {{ return(node_memo('state ' ~ name, '_keyed_read_state', name)) }}
{%- endmacro %}

{% macro _keyed_read_state(name) -%}
    {%- set relation = _keyed_bookkeeping('funnel_keyed_state') -%}
    {%- if not _keyed_exists(relation) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select generation, mode, as_of_date, previous_as_of_date, load_marks::text, previous_load_marks::text,"
        ~ " log_marks::text, previous_log_marks::text from " ~ relation ~ " where relation_name = '" ~ name ~ "'"
    ).rows -%}
    {%- if not rows -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {{ return({
        'generation': row[0], 'mode': row[1], 'as_of_date': row[2], 'previous_as_of_date': row[3],
        'load_marks': fromjson(row[4] or '{}'), 'previous_load_marks': fromjson(row[5] or '{}'),
        'log_marks': fromjson(row[6] or '{}'), 'previous_log_marks': fromjson(row[7] or '{}'),
    }) }}
{%- endmacro %}

{#-
  What makes every key of a model stale at once: per source, the loads superseded by `--replace` and the latest
  load of its lookup tables (any row may read them); the vars regions and business_timezone. Text, compared with
  the recorded one. (`funnel purge` / `funnel forget` change raw rows in place: they rebuild the keyed models
  they reach with --full-refresh, orchestration/ops/privacy.py.)
-#}
{% macro keyed_generation(source_name) -%}
    {{ return(node_memo('generation ' ~ source_name, '_keyed_read_generation', source_name)) }}
{%- endmacro %}

{% macro _keyed_read_generation(source_name) -%}
    {%- set lookups = [] -%}
    {%- for node in (graph.get('sources') or {}).values()
        if node.source_name == source_name and ((node.meta or {}).get('contract') or {}).get('lookup') -%}
        {%- do lookups.append("'" ~ node.name ~ "'") -%}
    {%- endfor -%}
    {%- set parts = [] -%}
    {%- if adapter.get_relation(target.database, 'raw', 'load_ledger') is not none -%}
        {%- set query -%}
            select
                count(*) filter (where superseded_by is not null),
                coalesce(max(load_id) filter (where table_name in ({{ (lookups or ["''"]) | join(', ') }})), 0)
            from raw.load_ledger
            where source = '{{ source_name }}'
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- do parts.extend(['replaced ' ~ row[0], 'lookups ' ~ row[1]]) -%}
    {%- endif -%}
    {%- set scope = region_scope() -%}
    {%- do parts.append('regions ' ~ (scope | join(',') if scope is not none else 'all')) -%}
    {%- do parts.append('zone ' ~ business_timezone()) -%}
    {{ return(parts | join('; ')) }}
{%- endmacro %}

{#-
  The runs a parent logged after run number `consumed`, as {'runs': [...], 'full': bool}: full when one of them
  was a full run, or when runs were pruned from the log in between (or nothing was consumed yet).
-#}
{% macro _keyed_parent_runs(parent, consumed) -%}
    {%- set log = _keyed_bookkeeping('funnel_keyed_log') -%}
    {%- set name = _keyed_name(_keyed_relation(parent)) -%}
    {%- if consumed is none or not _keyed_exists(log) -%}
        {{ return({'full': true, 'first': none, 'last': none}) }}
    {%- endif -%}
    {%- set row = run_query(
        "select min(run_number), max(run_number), coalesce(bool_or(mode = 'full'), false) from " ~ log
        ~ " where relation_name = '" ~ name ~ "' and run_number > " ~ consumed
    ).rows[0] -%}
    {%- set first = row[0] -%}
    {%- if first is not none and first != consumed + 1 -%}
        {{ return({'full': true, 'first': first, 'last': row[1]}) }}
    {%- endif -%}
    {{ return({'full': row[2], 'first': first, 'last': row[1]}) }}
{%- endmacro %}

{#- A select of the number of keyed model `name`'s last logged run (0: none), for the marks of its readers. -#}
{% macro _keyed_last_run(name) -%}
    {{ return(
        "(select coalesce(max(run_number), 0) from " ~ _keyed_bookkeeping('funnel_keyed_log')
        ~ " where relation_name = '" ~ _keyed_name(_keyed_relation(name)) ~ "')"
    ) }}
{%- endmacro %}

{#- full or keys (see the top of this file); `full` while dbt parses. -#}
{% macro keyed_mode() -%}
    {%- if not execute or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {{ return(node_memo('mode', '_keyed_read_mode')) }}
{%- endmacro %}

{% macro _keyed_read_mode(unused=none) -%}
    {%- set keyed = keyed_config() -%}
    {%- set state = keyed_state(_keyed_name(this)) -%}
    {%- if state is none or state.generation != keyed_generation(keyed.source) -%}
        {{ return('full') }}
    {%- endif -%}
    {#- a model cut at the as-of date built for a later day than this run's (a full refresh of others reset it) -#}
    {%- if (keyed.events or keyed.as_of_keys) and state.as_of_date > as_of_date_value() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- for feed in keyed.parents -%}
        {%- if _keyed_parent_runs(feed.model, state.log_marks.get(feed.model)).full -%}
            {{ return('full') }}
        {%- endif -%}
    {%- endfor -%}
    {{ return('keys') }}
{%- endmacro %}

{#-
  `in (...)` of the keys a select returns, its column named explicitly: an unqualified column that the select's
  table lacks would silently read the outer query's column instead (and match every row). A semi-join, not
  `= any(array(...))`: the planner can hash it, where an array of unknown size is compared with every row.
-#}
{% macro _keyed_in(keys) -%}
    {{ return('in (select affected_key from (' ~ keys ~ ') as affected (affected_key))') }}
{%- endmacro %}

{#- `keys` (a select) mapped through the feed's hops. -#}
{% macro _keyed_through(feed, keys) -%}
    {%- set mapped = namespace(keys=keys) -%}
    {%- for model_name, from_column, to_column in _keyed_hops(feed) -%}
        {%- set mapped.keys = 'select ' ~ to_column ~ ' from ' ~ _keyed_relation(model_name) ~ ' where '
            ~ from_column ~ ' ' ~ _keyed_in(mapped.keys) -%}
    {%- endfor -%}
    {{ return(mapped.keys) }}
{%- endmacro %}

{#- The keys of `feed` whose rows meet `condition`, mapped through its hops. -#}
{% macro _keyed_feed_keys(feed, condition) -%}
    {%- set keys = 'select ' ~ feed.key ~ ' from ' ~ _keyed_relation(feed.model) ~ ' where ' ~ condition
        ~ ' and ' ~ feed.key ~ ' is not null' -%}
    {{ return(_keyed_through(feed, keys)) }}
{%- endmacro %}

{#-
  A select of the keys that the changes since `marks` (load marks per model), the events between the as-of
  dates `since` and `until`, and the parents' runs after `log_marks` touch, for `keyed`; none when nothing can
  have changed. The event range starts at the beginning of `since` (not its end): what turns at the start of a
  day (an activity due that day becomes overdue the next) is covered too.
-#}
{% macro keyed_affected_keys(keyed, marks, since, until, log_marks) -%}
    {%- set selects = [] -%}
    {%- for feed in keyed.changes -%}
        {%- do selects.append(_keyed_feed_keys(feed, '_load_id > ' ~ (marks.get(feed.model) or 0))) -%}
    {%- endfor -%}
    {%- if since is not none and until > since -%}
        {%- set start = business_day_end("'" ~ (since - modules.datetime.timedelta(days=1)).isoformat() ~ "'") -%}
        {%- set end = business_day_end("'" ~ until.isoformat() ~ "'") -%}
        {%- for feed in keyed.events -%}
            {%- if feed.on -%}
                {%- set condition = feed.on ~ " >= cast('" ~ since.isoformat() ~ "' as date) and " ~ feed.on
                    ~ " <= cast('" ~ until.isoformat() ~ "' as date)" -%}
            {%- else -%}
                {%- set condition = feed.at ~ ' >= ' ~ start ~ ' and ' ~ feed.at ~ ' < ' ~ end -%}
            {%- endif -%}
            {%- do selects.append(_keyed_feed_keys(feed, condition)) -%}
        {%- endfor -%}
        {%- if keyed.as_of_keys -%}
            {%- do selects.append(
                'select ' ~ keyed.as_of_keys ~ " from (select cast(day as date) as as_of_day from generate_series("
                ~ "cast('" ~ since.isoformat() ~ "' as date), cast('" ~ until.isoformat()
                ~ "' as date), interval '1 day') as day) as as_of_days"
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set log = _keyed_bookkeeping('funnel_keyed_log') -%}
    {%- for feed in keyed.parents -%}
        {%- set logged = "select " ~ (feed.key or 'logged_value') ~ " from (select cast(jsonb_array_elements_text("
            ~ "logged -> '" ~ feed.column ~ "') as " ~ (feed.type or 'text') ~ ") as logged_value from " ~ log
            ~ " where relation_name = '" ~ _keyed_name(_keyed_relation(feed.model)) ~ "' and run_number > "
            ~ (log_marks.get(feed.model) or 0) ~ ") as logged" -%}
        {%- do selects.append(_keyed_through(feed, logged)) -%}
    {%- endfor -%}
    {{ return(selects | join(' union ') if selects else none) }}
{%- endmacro %}

{#- This run's affected keys as a select (see keyed_affected_keys), for a run in keys mode. -#}
{% macro keyed_run_keys() -%}
    {{ return(node_memo('run keys', '_keyed_read_run_keys')) }}
{%- endmacro %}

{% macro _keyed_read_run_keys(unused=none) -%}
    {%- set keyed = keyed_config() -%}
    {%- set state = keyed_state(_keyed_name(this)) -%}
    {%- set since = state.as_of_date if keyed.events or keyed.as_of_keys else none -%}
    {{ return(keyed_affected_keys(keyed, state.load_marks, since, as_of_date_value(), state.log_marks)) }}
{%- endmacro %}

{#-
  Predicate for an input of a keyed model: `column` (the input's value of the model's key) is an affected key;
  `true` in full mode. It reads the run's keys from the table keyed_prepare() fills (keyed_run_table), so the
  planner knows how many they are and can hash them or look them up. lookup=true writes it as
  `= any(array(...))` instead: for an input that is a view with subqueries (a semi-join is planned above the
  view, after all its rows; a plain condition is pushed into it) and an index on the column. A by_load model
  filters its raw rows itself (keyed_new_loads).
-#}
{% macro keyed_filter(column, lookup=false) -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- elif keyed_run_keys() is none -%}
        false
    {%- elif lookup -%}
        {{ column }} = any(array(select run_keys.affected_key from {{ keyed_run_table() }} as run_keys))
    {%- else -%}
        {{ column }} in (select run_keys.affected_key from {{ keyed_run_table() }} as run_keys)
    {%- endif -%}
{%- endmacro %}

{#-
  The run's affected keys (keys mode, keyed_run_keys() not none) as a temporary table of the model's transaction
  (column affected_key, distinct, not null), made and analysed by keyed_prepare() before the model's SQL runs:
  its size is what lets the planner choose between index lookups and a hash join. Only inside the run: the
  compiled SQL of a keys-mode run does not run alone.
-#}
{% macro keyed_run_table() -%}
    {{ return(_keyed_temp('run')) }}
{%- endmacro %}

{#-
  For a model that filters several inputs or columns by its affected keys: the CTE `affected_keys` (the keys,
  cast to `type`, computed once; nothing in full mode) to open its `with`, and the predicate on it.
-#}
{% macro keyed_affected_keys_cte(type) -%}
    {%- if keyed_mode() == 'keys' -%}
    affected_keys as (

    select distinct cast(run_keys.affected_key as {{ type }}) as affected_key
    from {{ keyed_run_table() if keyed_run_keys() is not none else '(select null where false)' }}
        as run_keys (affected_key)

),
    {%- endif -%}
{%- endmacro %}

{% macro keyed_in_affected_keys(column) -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- else -%}
        {{ column }} in (select affected_keys.affected_key from affected_keys)
    {%- endif -%}
{%- endmacro %}

{#-
  For a model that adds up what new loads bring (its rows are sums over raw rows): the condition on the rows of
  `model` (a changes feed) that this run takes: all in full mode, else those of loads after its mark.
-#}
{% macro keyed_new_rows(model_name) -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- else -%}
        _load_id > {{ keyed_state(_keyed_name(this)).load_marks.get(model_name) or 0 }}
    {%- endif -%}
{%- endmacro %}

{#-
  keyed_filter for a model keyed by month (a month-start date) on an input dated by `date_column`: the days of the
  affected months, so that an index on the date column serves it.
-#}
{% macro keyed_filter_months(date_column) -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- elif keyed_run_keys() is none -%}
        false
    {%- else -%}
        {{ date_column }} in (
            select cast(day as date)
            from {{ keyed_run_table() }} as run_keys (month)
            cross join generate_series(month, month + interval '1 month' - interval '1 day', interval '1 day') as day
        )
    {%- endif -%}
{%- endmacro %}

{#- For a base model: the raw rows of `relation` a run takes: all (full mode), or those of loads it does not hold. -#}
{% macro keyed_new_loads() -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- else -%}
        _load_id in (
            select ledger.load_id
            from raw.load_ledger as ledger
            where
                ledger.superseded_by is null
                and not exists (select 1 from {{ this }} as held where held._load_id = ledger.load_id)
        )
    {%- endif -%}
{%- endmacro %}

{#-
  Pre-hook: serialise runs of the model; in full mode on an existing table, empty it; in keys mode, fill the
  table of the run's keys (keyed_run_table). Same transaction as the model's SQL.
-#}
{% macro keyed_prepare() -%}
    {%- if is_incremental() -%}
        select pg_advisory_xact_lock(hashtext('funnel.incremental.{{ this }}'));
        {%- if keyed_mode() == 'full' %}
        truncate {{ this }}
        {%- elif not keyed_config().by_load and keyed_run_keys() is not none %}
        create temporary table {{ keyed_run_table() }} on commit drop as
        select distinct affected_key
        from ({{ keyed_run_keys() }}) as affected (affected_key)
        where affected_key is not null;
        analyze {{ keyed_run_table() }}
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro _keyed_temp(suffix) -%}
    {{ return(adapter.quote(this.identifier ~ '__keyed_' ~ suffix)) }}
{%- endmacro %}

{#-
  The strategy of keyed models (incremental_strategy='keyed'): note the run's affected keys (and the logged
  columns of their rows as they were), delete them, insert the rows rebuilt for them. A by_load model's
  affected keys are those of the rows it rebuilt (a key never loses all its rows there without a generation
  change).
-#}
{% macro get_incremental_keyed_sql(arg_dict) -%}
    {%- set keyed = keyed_config() -%}
    {%- set target_relation, temp_relation = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
    {%- if keyed_mode() == 'keys' %}
    {#- the batch's own keys too: a run that waited for another's lock (keyed_prepare) rendered its SQL from the
        state before that run, so its batch may hold more keys than the state now says -#}
    {%- set batch = 'select ' ~ keyed.key ~ ' from ' ~ temp_relation %}
    {%- set run_keys = 'select affected_key from ' ~ keyed_run_table() if keyed_run_keys() is not none else none %}
    {%- set keys = batch if keyed.by_load or run_keys is none else run_keys ~ ' union ' ~ batch %}
    {#- the column is named explicitly: `key in (select key from ...)` on a table without it would silently
        read the outer table's column instead, and match every row -#}
    create temporary table {{ _keyed_temp('keys') }} on commit drop as
    select affected_key
    from ({{ keys }}) as affected (affected_key);
    analyze {{ _keyed_temp('keys') }};
    {%- if keyed.log %}
    {#- the rewritten rows as they were, each with a digest of its whole row: keyed_record logs only the rows that
        changed (a key is rewritten whole, most of its rows come back as they were) -#}
    create temporary table {{ _keyed_temp('before') }} on commit drop as
    select {{ _keyed_log_columns(keyed) }}
    from {{ target_relation }} as logged_row
    where {{ keyed.key }} in (select affected_key from {{ _keyed_temp('keys') }});
    {%- endif %}
    delete from {{ target_relation }}
    where {{ keyed.key }} in (select affected_key from {{ _keyed_temp('keys') }});
    {%- endif %}
    {{ get_insert_into_sql(target_relation, temp_relation, arg_dict['dest_columns']) }}
{%- endmacro %}

{#- The logged columns of a row (alias logged_row) and a digest of the whole row, to tell a changed row. -#}
{% macro _keyed_log_columns(keyed) -%}
    {{ return(keyed.log | join(', ') ~ ', md5(cast(logged_row as text)) as row_digest') }}
{%- endmacro %}

{#- Post-hook: record what the run consumed and, for its children, what it rewrote (same transaction). -#}
{% macro keyed_record() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set keyed = keyed_config() -%}
    {%- set mode = keyed_mode() -%}
    {%- set state, log = _keyed_bookkeeping('funnel_keyed_state'), _keyed_bookkeeping('funnel_keyed_log') -%}
    {%- set marks, log_marks, logged = [], [], [] -%}
    {%- for name in keyed.changes | map(attribute='model') | unique -%}
        {%- do marks.append("'" ~ name ~ "', (select coalesce(max(_load_id), 0) from " ~ ref(name) ~ ")") -%}
    {%- endfor -%}
    {%- if keyed.by_load -%}
        {%- do marks.append("'" ~ this.identifier ~ "', (select coalesce(max(_load_id), 0) from " ~ this ~ ")") -%}
    {%- endif -%}
    {%- for name in keyed.parents | map(attribute='model') | unique -%}
        {%- do log_marks.append("'" ~ name ~ "', " ~ _keyed_last_run(name)) -%}
    {%- endfor -%}
    {%- for column in keyed.log -%}
        {%- do logged.append(
            "'" ~ column ~ "', (select coalesce(jsonb_agg(distinct cast(" ~ column ~ " as text)), '[]') from "
            ~ _keyed_temp('changed') ~ " where " ~ column ~ " is not null)"
        ) -%}
    {%- endfor -%}
    {%- set rewritten = _keyed_bookkeeping('funnel_keyed_rewritten') -%}
    {%- if not (_keyed_exists(state) and _keyed_exists(log) and _keyed_exists(rewritten)) %}
    -- models running in parallel threads create them once (concurrent `if not exists` can still collide)
    select pg_advisory_xact_lock(hashtext('funnel.keyed_state'));
    create schema if not exists {{ state.schema }};
    create table if not exists {{ state }} (
        relation_name text primary key,
        generation text not null,
        mode text not null,
        as_of_date date not null,
        previous_as_of_date date,
        load_marks jsonb not null,
        previous_load_marks jsonb,
        log_marks jsonb not null,
        previous_log_marks jsonb,
        recorded_at timestamptz not null default clock_timestamp()
    );
    create table if not exists {{ log }} (
        relation_name text not null,
        run_number bigint not null,
        mode text not null,
        logged jsonb,
        recorded_at timestamptz not null default clock_timestamp(),
        primary key (relation_name, run_number)
    );
    create table if not exists {{ rewritten }} (
        relation_name text primary key,
        key_type text not null,
        affected_keys text[] not null
    );
    {%- endif %}
    -- the keys this run rewrote, for its tests (keyed_last_run_scope); none after a full run
    delete from {{ rewritten }} where relation_name = '{{ _keyed_name(this) }}';
    {%- if mode == 'keys' and not keyed.by_load %}
    insert into {{ rewritten }} (relation_name, key_type, affected_keys)
    select
        '{{ _keyed_name(this) }}',
        format_type(attribute.atttypid, attribute.atttypmod),
        array(select distinct cast(affected_key as text) from {{ _keyed_temp('keys') }} where affected_key is not null)
    from pg_attribute as attribute
    where attribute.attrelid = '{{ _keyed_temp('keys') }}'::regclass and attribute.attname = 'affected_key';
    {%- endif %}
    insert into {{ state }} as state (relation_name, generation, mode, as_of_date, load_marks, log_marks)
    values (
        '{{ _keyed_name(this) }}',
        '{{ keyed_generation(keyed.source) }}',
        '{{ mode }}',
        {{ as_of_date() }},
        jsonb_build_object({{ marks | join(', ') }}),
        jsonb_build_object({{ log_marks | join(', ') }})
    )
    on conflict (relation_name) do update set
        generation = excluded.generation,
        mode = excluded.mode,
        previous_as_of_date = state.as_of_date,
        as_of_date = excluded.as_of_date,
        previous_load_marks = state.load_marks,
        load_marks = excluded.load_marks,
        previous_log_marks = state.log_marks,
        log_marks = excluded.log_marks,
        recorded_at = clock_timestamp();
    {%- if keyed.log %}
    {%- if mode == 'keys' %}
    -- the rows the run changed: those of its keys that were not there before, and those that are gone (a changed
    -- row is both); a row written back as it was is no change for the children
    create temporary table {{ _keyed_temp('changed') }} on commit drop as
    with after as (
        select {{ _keyed_log_columns(keyed) }}
        from {{ this }} as logged_row
        where {{ keyed.key }} in (select affected_key from {{ _keyed_temp('keys') }})
    )
    (select * from {{ _keyed_temp('before') }} except all select * from after)
    union all
    (select * from after except all select * from {{ _keyed_temp('before') }});
    {%- endif %}
    -- what children read: the logged columns of the rows this run changed (null: all of them, a full run);
    -- runs older than 35 days go (a child that did not run since then rebuilds whole)
    delete from {{ log }}
    where relation_name = '{{ _keyed_name(this) }}' and recorded_at < clock_timestamp() - interval '35 days';
    insert into {{ log }} (relation_name, run_number, mode, logged)
    select
        '{{ _keyed_name(this) }}',
        coalesce(max(run_number), 0) + 1,
        '{{ mode }}',
        {{ 'jsonb_build_object(' ~ logged | join(', ') ~ ')' if mode == 'keys' else 'null' }}
    from {{ log }}
    where relation_name = '{{ _keyed_name(this) }}'
    {%- endif %}
{%- endmacro %}

{#-
  For the tests of a keyed model (macros/tests/test_scope.sql): a predicate on the keys its last run rewrote
  (recorded by keyed_record in funnel_keyed_rewritten, so a test does not derive them again), or none when that
  run was a full one (every row was written). `= any(...)` of the key's own type: an index lookup, that the
  planner does not reorder with the test's joins.
-#}
{% macro keyed_last_run_scope(node) -%}
    {%- set keyed = keyed_config(node) -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- if keyed.by_load -%}
        {%- set state = keyed_state(_keyed_name(relation)) -%}
        {{ return(none if state is none or state.mode == 'full'
            else '_load_id > ' ~ (state.previous_load_marks.get(node.alias) or 0)) }}
    {%- endif -%}
    {%- set key_type = keyed_rewritten_key_type(node) -%}
    {%- if key_type is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- cast((select ...) as t[]): an array expression; `any((select ...))` would compare with the rows instead.
        A null key is no key a run records: the rows that carry one are checked on every run. -#}
    {{ return('((' ~ keyed.key ~ ') = any(cast((select affected_keys from ' ~ _keyed_bookkeeping('funnel_keyed_rewritten')
        ~ " where relation_name = '" ~ _keyed_name(relation) ~ "') as " ~ key_type ~ '[])) or (' ~ keyed.key
        ~ ') is null)') }}
{%- endmacro %}

{#- The type of the keys keyed model `node`'s last run rewrote (funnel_keyed_rewritten), or none when every row is
    to be checked: that run was a full one, it never ran, or it recorded no keys. -#}
{% macro keyed_rewritten_key_type(node) -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- set state = keyed_state(_keyed_name(relation)) -%}
    {%- set rewritten = _keyed_bookkeeping('funnel_keyed_rewritten') -%}
    {%- if state is none or state.mode == 'full' or not _keyed_exists(rewritten) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select key_type from " ~ rewritten ~ " where relation_name = '" ~ _keyed_name(relation) ~ "'"
    ).rows -%}
    {{ return(rows[0][0] if rows else none) }}
{%- endmacro %}
