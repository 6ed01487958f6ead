{#-
  The keyed incremental contract: tables whose rows belong to an entity (a deal, an activity, a lead, a
  quote, a copy group of raw rows) and are rebuilt per entity, so that a run costs what changed, not the history.

  A keyed model declares its key and where its changes come from, then reads its inputs through keyed_filter():

      {{ keyed_incremental(key='deal_id', source='pipedrive',
          changes=[{'model': 'base_pipedrive__deal_changes', 'key': 'deal_id'}],
          events=[{'model': 'stg_pipedrive__deal_changes', 'key': 'deal_id', 'at': 'changed_at'}]) }}
      ... from {{ ref('stg_pipedrive__deal_changes') }} where {{ keyed_filter('deal_id') }}

  A run is one of two modes (keyed_mode()):
    full  the first build, --full-refresh, or a change nobody can trace to keys (the model's generation moved,
          see keyed_generation(): a `--replace` load or a new load of a lookup table of its source, a purge or
          forget, another var regions or business_timezone). keyed_filter() is `true`; an existing table is
          truncated in the run's transaction (pre-hook) and refilled.
    keys  the affected keys (keyed_affected_keys()) are deleted and rebuilt, in one transaction:
            changes  {model, key}: keys of the rows of `model` (a base model: every raw row, whatever its
                     disposition) that loads after the last run brought (_load_id above the mark this model
                     recorded for it);
            events   {model, key, at}: keys with an event (instant column `at`) from the as-of date of the last
                     run to the end of this run's (macros/incremental_window.sql: as_of_date), for a model that
                     cuts its history at the as-of date. A backfill of past days keeps the as-of date.
          A feed's keys can be mapped to the model's key through another model: through=[model, from, to]
          (e.g. the deals a load touched -> the ids of their activities). as_of_keys: the keys of the days the
          as-of date moved over (an expression of `as_of_day`), for a model that reads the as-of date itself.
          A base model (by_load=true) takes the raw rows of loads it does not hold yet and re-derives the
          dispositions of the copy groups / keys they touch (macros/staging); its affected keys are the keys
          of the rows it wrote.
  Either way the result equals a full refresh as of the same day (tests/test_reliability_properties.py).
  What the run consumed is recorded in <intermediate schema>.funnel_keyed_state (post-hook, same transaction),
  and generic tests of a keyed model check the keys the last run rewrote (macros/tests/test_scope.sql).
  Not seen: seeds and code (funnel build and Dagster rebuild what an edit reaches with --full-refresh,
  orchestration/core/build_state.py) and SQL by hand.
-#}

{% macro keyed_incremental(key, source, changes=[], events=[], as_of_keys=none, by_load=false) -%}
    {#- the inputs named by the feeds are dependencies of the model (a unit test gives only what the SQL reads) -#}
    {%- for feed in (changes + events if model.resource_type != 'unit_test' else []) -%}
        {%- do ref(feed.model) -%}
        {%- if feed.through -%}
            {%- do ref(feed.through[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='keyed',
        unique_key=key,
        on_schema_change='fail',
        meta={'keyed': {
            'key': key, 'source': source, 'changes': changes, 'events': events, 'as_of_keys': as_of_keys,
            'by_load': by_load,
        }},
        pre_hook="{{ keyed_prepare() }}",
        post_hook="{{ keyed_record() }}",
    ) }}
{%- endmacro %}

{#- The keyed config of the model being run (or of `node`), or none. -#}
{% macro keyed_config(node=none) -%}
    {%- set node = node or model -%}
    {{ return(((node.config or {}).get('meta') or {}).get('keyed')) }}
{%- endmacro %}

{% macro keyed_state_relation() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('intermediate', none), identifier='funnel_keyed_state'
    )) }}
{%- endmacro %}

{#- The recorded state of relation `name` (schema.identifier) as a dict, or none. -#}
{% macro keyed_state(name) -%}
    {%- set relation = keyed_state_relation() -%}
    {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select generation, mode, as_of_date, previous_as_of_date, load_marks::text, previous_load_marks::text"
        ~ " from " ~ relation ~ " where relation_name = '" ~ name ~ "'"
    ).rows -%}
    {%- if not rows -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {{ return({
        'generation': row[0], 'mode': row[1], 'as_of_date': row[2], 'previous_as_of_date': row[3],
        'load_marks': fromjson(row[4] or '{}'), 'previous_load_marks': fromjson(row[5] or '{}'),
    }) }}
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

{#-
  What makes every key of a model stale at once: per source, the loads superseded by `--replace` and the latest
  load of its lookup tables (any row may read them); the privacy audit log (purge / forget changed raw rows in
  place); the vars regions and business_timezone. Text, compared with the recorded one.
-#}
{% macro keyed_generation(source_name) -%}
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
    {%- if adapter.get_relation(target.database, 'privacy', 'audit_log') is not none -%}
        {%- do parts.append('audit ' ~ run_query('select coalesce(max(audit_id), 0) from privacy.audit_log').rows[0][0]) -%}
    {%- endif -%}
    {%- do parts.append('regions ' ~ (region_scope() | string)) -%}
    {%- do parts.append('zone ' ~ business_timezone()) -%}
    {{ return(parts | join('; ')) }}
{%- endmacro %}

{#- full or keys (see the top of this file); `full` while dbt parses. -#}
{% macro keyed_mode() -%}
    {%- if not execute or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set keyed = keyed_config() -%}
    {%- set state = keyed_state(_keyed_name(this)) -%}
    {%- if state is none or state.generation != keyed_generation(keyed.source) -%}
        {{ return('full') }}
    {%- endif -%}
    {#- a model cut at the as-of date built for a later day than this run's (a full refresh of others reset it) -#}
    {%- if keyed.events and state.as_of_date > as_of_date_value() -%}
        {{ return('full') }}
    {%- endif -%}
    {{ return('keys') }}
{%- endmacro %}

{#- The keys of `feed` whose rows meet `condition`, mapped through feed.through ([model, from, to]) if given. -#}
{% macro _keyed_feed_keys(feed, condition) -%}
    {%- set keys = 'select ' ~ feed.key ~ ' from ' ~ _keyed_relation(feed.model) ~ ' where ' ~ condition
        ~ ' and ' ~ feed.key ~ ' is not null' -%}
    {%- if feed.through -%}
        {%- set model_name, from_column, to_column = feed.through -%}
        {%- set keys = 'select ' ~ to_column ~ ' from ' ~ _keyed_relation(model_name) ~ ' where ' ~ from_column
            ~ ' = any(array(' ~ keys ~ '))' -%}
    {%- endif -%}
    {{ return(keys) }}
{%- endmacro %}

{#-
  A select of the keys that the changes since `marks` (load marks per model) and the events between the as-of
  dates `since` and `until` touch, for `keyed`; none when nothing can have changed. The event range starts at
  the beginning of `since` (not its end): what turns at the start of a day (an activity due that day becomes
  overdue the next) is covered too.
-#}
{% macro keyed_affected_keys(keyed, marks, since, until) -%}
    {%- set selects = [] -%}
    {%- for feed in keyed.changes -%}
        {%- do selects.append(_keyed_feed_keys(feed, '_load_id > ' ~ (marks.get(feed.model) or 0))) -%}
    {%- endfor -%}
    {%- if keyed.events and since is not none and until > since -%}
        {%- set start = business_day_end("'" ~ (since - modules.datetime.timedelta(days=1)).isoformat() ~ "'") -%}
        {%- set end = business_day_end("'" ~ until.isoformat() ~ "'") -%}
        {%- for feed in keyed.events -%}
            {%- do selects.append(_keyed_feed_keys(feed, feed.at ~ ' >= ' ~ start ~ ' and ' ~ feed.at ~ ' < ' ~ end)) -%}
        {%- endfor -%}
        {%- if keyed.as_of_keys -%}
            {%- do selects.append(
                'select ' ~ keyed.as_of_keys ~ ' from generate_series(cast(\'' ~ since.isoformat()
                ~ '\' as date) + 1, cast(\'' ~ until.isoformat() ~ '\' as date), interval \'1 day\') as as_of_day'
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(selects | join(' union ') if selects else none) }}
{%- endmacro %}

{#- This run's affected keys as a select (see keyed_affected_keys), for a run in keys mode. -#}
{% macro keyed_run_keys() -%}
    {%- set state = keyed_state(_keyed_name(this)) -%}
    {%- set since = state.as_of_date if keyed_config().events else none -%}
    {{ return(keyed_affected_keys(keyed_config(), state.load_marks, since, as_of_date_value())) }}
{%- endmacro %}

{#-
  Predicate for an input of a keyed model: `column` (the input's value of the model's key) is an affected key;
  `true` in full mode. A by_load model filters its raw rows itself (keyed_new_loads).
-#}
{% macro keyed_filter(column) -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- else -%}
        {%- set keys = keyed_run_keys() -%}
        {%- if keys is none -%}
            false
        {%- else -%}
            {{ column }} = any(array({{ keys }}))
        {%- endif -%}
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

{#- Pre-hook: serialise runs of the model; in full mode on an existing table, empty it (same transaction). -#}
{% macro keyed_prepare() -%}
    {%- if is_incremental() -%}
        select pg_advisory_xact_lock(hashtext('funnel.incremental.{{ this }}'));
        {%- if keyed_mode() == 'full' %}
        truncate {{ this }}
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#-
  The strategy of keyed models (incremental_strategy='keyed'): delete the run's affected keys, insert the rows
  rebuilt for them. A by_load model's affected keys are those of the rows it rebuilt (a key never loses all its
  rows there without a generation change).
-#}
{% macro get_incremental_keyed_sql(arg_dict) -%}
    {%- set keyed = keyed_config() -%}
    {%- set target_relation, temp_relation = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
    {%- set keys = 'select ' ~ keyed.key ~ ' from ' ~ temp_relation if keyed.by_load else keyed_run_keys() -%}
    {%- if keys is not none and keyed_mode() == 'keys' %}
    delete from {{ target_relation }}
    where {{ keyed.key }} = any(array({{ keys }}));
    {%- endif %}
    {{ get_insert_into_sql(target_relation, temp_relation, arg_dict['dest_columns']) }}
{%- endmacro %}

{#- Post-hook: record what the run consumed (same transaction as its writes). -#}
{% macro keyed_record() -%}
    {%- set keyed = keyed_config() -%}
    {%- set relation = keyed_state_relation() -%}
    {%- set marks = [] -%}
    {%- for name in keyed.changes | map(attribute='model') | unique -%}
        {%- do marks.append("'" ~ name ~ "', (select coalesce(max(_load_id), 0) from " ~ ref(name) ~ ")") -%}
    {%- endfor -%}
    {%- if keyed.by_load -%}
        {%- do marks.append("'" ~ this.identifier ~ "', (select coalesce(max(_load_id), 0) from " ~ this ~ ")") -%}
    {%- endif %}
    {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none %}
    -- models running in parallel threads create it once (concurrent `if not exists` can still collide)
    select pg_advisory_xact_lock(hashtext('funnel.keyed_state'));
    create schema if not exists {{ relation.schema }};
    {%- endif %}
    create table if not exists {{ relation }} (
        relation_name text primary key,
        generation text not null,
        mode text not null,
        as_of_date date not null,
        previous_as_of_date date,
        load_marks jsonb not null,
        previous_load_marks jsonb,
        recorded_at timestamptz not null default clock_timestamp()
    );
    insert into {{ relation }} as state (relation_name, generation, mode, as_of_date, load_marks)
    values (
        '{{ _keyed_name(this) }}',
        '{{ keyed_generation(keyed.source) }}',
        '{{ keyed_mode() }}',
        {{ as_of_date() }},
        jsonb_build_object({{ marks | join(', ') }})
    )
    on conflict (relation_name) do update set
        generation = excluded.generation,
        mode = excluded.mode,
        previous_as_of_date = state.as_of_date,
        as_of_date = excluded.as_of_date,
        previous_load_marks = state.load_marks,
        load_marks = excluded.load_marks,
        recorded_at = clock_timestamp()
{%- endmacro %}

{#-
  For the tests of a keyed model (macros/tests/test_scope.sql): a predicate on the keys its last run rewrote,
  or none when that run was a full one (every row was written).
-#}
{% macro keyed_last_run_scope(node) -%}
    {%- set keyed = keyed_config(node) -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- set state = keyed_state(_keyed_name(relation)) -%}
    {%- if state is none or state.mode == 'full' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if keyed.by_load -%}
        {{ return('_load_id > ' ~ (state.previous_load_marks.get(node.alias) or 0)) }}
    {%- endif -%}
    {%- set since = state.previous_as_of_date if keyed.events else none -%}
    {%- set keys = keyed_affected_keys(keyed, state.previous_load_marks, since, state.as_of_date) -%}
    {{ return('false' if keys is none else keyed.key ~ ' = any(array(' ~ keys ~ '))') }}
{%- endmacro %}
