{#-
  The YAML contract of a source table: {columns: [{name, type, required, fold, staged, pii}], key, key_label,
  event_date, dedupe}, read from dbt's graph (staging/<source>/_<source>__sources.yml; the staging design of a
  source checks the dedupe rule it implements). dbt unit tests run without the graph: a unit test of a base model
  gives the tested table's contract as var source_contract ({columns: {<name>: <meta>}, contract: <table meta>},
  overrides: vars), and tests/test_source_contracts.py checks that it is the YAML's.
-#}
{% macro source_contract(relation) -%}
    {%- set declared = [] -%}
    {%- for node in (graph.get('sources') or {}).values()
        if node.schema | lower == relation.schema | lower and node.identifier == relation.identifier -%}
        {%- set metas = {} -%}
        {%- for column in node.columns.values() if not column.name.startswith('_') -%}
            {%- do metas.update({column.name: column.get('meta') or {}}) -%}
        {%- endfor -%}
        {%- do declared.append([metas, (node.get('meta') or {}).get('contract') or {}]) -%}
    {%- endfor -%}
    {%- if not declared and var('source_contract', none) is not none -%}
        {%- do declared.append([var('source_contract').columns, var('source_contract').contract]) -%}
    {%- endif -%}
    {%- if not declared -%}
        {{ exceptions.raise_compiler_error('no source contract for ' ~ relation) }}
    {%- endif -%}
    {%- set metas, table = declared[0] -%}
    {%- set columns = [] -%}
    {%- for name, meta in metas.items() -%}
        {%- do columns.append({
            'name': name,
            'type': meta.get('type', 'text'),
            'required': meta.get('required', false),
            'fold': meta.get('fold'),
            'staged': meta.get('staged_as', name),
            'pii': meta.get('pii', false),
        }) -%}
    {%- endfor -%}
    {{ return({
        'columns': columns,
        'key': table.key,
        'key_label': table.get('key_label', table.key | join(' and ')),
        'event_date': table.get('event_date'),
        'dedupe': table.get('dedupe'),
    }) }}
{%- endmacro %}

{#-
  The personal columns of a contract: {pii: their names, identifiers: [[kind, column], ...] of the email / phone ones,
  which a forgotten subject is matched on}. `suppressions` must be given exactly when there are any.
-#}
{% macro contract_personal_columns(contract, relation, suppressions) -%}
    {%- set pii = contract.columns | selectattr('pii') | map(attribute='name') | list -%}
    {%- set identifiers = [] -%}
    {%- for column in contract.columns if column.pii and column.type in ('email', 'phone') -%}
        {%- do identifiers.append([column.type, column.name]) -%}
    {%- endfor -%}
    {%- if (pii | length > 0) != (suppressions is not none) -%}
        {{ exceptions.raise_compiler_error(relation ~ ': pass suppressions exactly when the contract has pii columns') }}
    {%- endif -%}
    {{ return({'pii': pii, 'identifiers': identifiers}) }}
{%- endmacro %}

{#- The loader's lineage columns a staging model carries (orchestration/ingest/loader.py adds them to every raw table). -#}
{% macro loader_lineage_columns() -%}
    {{ return(['_source_file', '_source_line', '_load_id', '_loaded_at']) }}
{%- endmacro %}

{#- The lineage columns as a select list, optionally qualified: `_source_file, _source_line, _load_id, _loaded_at`. -#}
{% macro loader_lineage(relation_alias=none) -%}
    {%- for name in loader_lineage_columns() -%}
        {{ relation_alias ~ '.' if relation_alias }}{{ name }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#-
  The first CTE(s) of a base model: `source`, the raw `columns` of `relation`. With `blanked` columns (personal
  data), a forgotten subject's are blanked before anything else reads them: `screened` tests the `identifiers`
  ([kind, column], macros/privacy) once per row, and `source` lists the other columns, then the blanked ones.
  Ends with the comma before the next CTE. `where`: which raw rows (a keyed base model takes new loads only).
-#}
{% macro screened_source(relation, columns, blanked=[], identifiers=[], where='true') -%}
{% if blanked -%}
-- a forgotten subject's personal columns are blanked before anything else reads them (macros/privacy)
screened as (

    select
        {%- for name in columns %}
        {{ name }},
        {%- endfor %}
        {{ privacy_is_suppressed(identifiers) }} as is_suppressed
    from {{ relation }}
    where {{ where }}

),

source as (

    select
        {%- for name in columns if name not in blanked %}
        {{ name }},
        {%- endfor %}
        {%- for name in blanked %}
        case when not is_suppressed then {{ name }} end as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from screened

),
{%- else -%}
source as (

    select
        {%- for name in columns %}
        {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    where {{ where }}

),
{%- endif %}
{%- endmacro %}
