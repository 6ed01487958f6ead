{#-
  The field_crm staging design, written once: every raw row of a source table, parsed, with its disposition
    staged     the latest parseable version of its key;
    duplicate  an exact copy of an earlier row ('exact duplicate of <file>:<line>');
    rejected   a value that does not parse or a required one missing (the reasons, '; '-joined), or an earlier
               version of a key ('superseded by a later row of <key> <value> at <file>:<line>').
  What to parse and how comes from the source's YAML contract (staging/field_crm/_field_crm__sources.yml: column
  type / required / fold / staged_as / pii, table key / key_label / event_date / dedupe), read from dbt's graph.
  The graph is empty while dbt parses, so the dependencies are the arguments: the source relation and, for a
  table with personal columns, the suppression list; parsing renders a placeholder.
-#}

{#- A parsed value of a raw column by its contract type (null when it does not parse). -#}
{% macro field_crm_parsed(column, type) -%}
    {%- if type == 'integer' -%} {{ field_crm_parse_int(column) }}
    {%- elif type == 'number' -%} {{ field_crm_parse_money(column) }}
    {%- elif type == 'boolean' -%} {{ field_crm_parse_consent(column) }}
    {%- elif type == 'date' -%} {{ field_crm_parse_date(column) }}
    {%- elif type == 'timestamp' -%} {{ field_crm_parse_timestamp(column) }}
    {%- elif type == 'email' -%} {{ field_crm_normalise_email(column) }}
    {%- elif type == 'phone' -%} {{ field_crm_clean_phone(column) }}
    {%- else -%} {{ exceptions.raise_compiler_error('field_crm_parsed: unknown type ' ~ type) }}
    {%- endif -%}
{%- endmacro %}

{#- The staged value of a contract column in CTE `keyed` (dates were parsed once there, as <column>_value). -#}
{% macro _field_crm_staged_value(column) -%}
    {%- if column.type in ('date', 'timestamp') -%} {{ column.name }}_value
    {%- elif column.type != 'text' -%} {{ field_crm_parsed(column.name, column.type) }}
    {%- elif column.fold == 'status' -%} {{ field_crm_fold_status(column.name) }}
    {%- elif column.fold -%} {{ column.name }}
    {%- else -%} {{ clean_text(column.name) }}
    {%- endif -%}
{%- endmacro %}

{#-
  The select of a base_field_crm__* model. `relation`: source('field_crm', <table>); `suppressions`:
  source('privacy', 'suppressions') when the table has personal columns (blanked for a forgotten subject);
  `expressions`: staged column -> SQL over the raw columns, where a column is staged otherwise than its type says.
-#}
{% macro staged_with_disposition(relation, suppressions=none, expressions={}) -%}
    {%- if not execute -%}
        select 1 as parsing_placeholder
    {%- else -%}
    {%- set contract = source_contract(relation) -%}
    {%- if contract.dedupe != 'latest_version' -%}
        {{ exceptions.raise_compiler_error(relation ~ ': dedupe ' ~ contract.dedupe ~ ' is not supported') }}
    {%- endif -%}
    {%- set columns = contract.columns -%}
    {%- set names = columns | map(attribute='name') | list -%}
    {%- set lineage = loader_lineage_columns() -%}
    {%- set personal = contract_personal_columns(contract, relation, suppressions) -%}
    {%- set pii, identifiers = personal.pii, personal.identifiers -%}
    {#- name spellings: column -> reorder "Last, First" (people) -#}
    {%- set spellings = {} -%}
    {%- for column in columns if column.fold in ('person', 'place') -%}
        {%- do spellings.update({column.name: column.fold == 'person'}) -%}
    {%- endfor -%}
    {%- set dates = columns | selectattr('type', 'in', ['date', 'timestamp']) | list -%}
    {#- the staged data columns in output order, each with its expression over CTE `keyed` -#}
    {%- set staged = [] -%}
    {%- for column in columns -%}
        {%- do staged.append([column.staged, expressions.get(column.staged, _field_crm_staged_value(column))]) -%}
        {%- if column.name in spellings -%}
            {%- do staged.append([column.name ~ '_name_key', column.name ~ '_name_key']) -%}
        {%- endif -%}
        {%- if column.type == 'number' -%}
            {%- do staged.append([
                'unreadable_' ~ column.name,
                field_crm_unreadable_value(column.name, field_crm_parsed(column.name, 'number')),
            ]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set staged_names = staged | map(attribute=0) | list -%}
    {#- a timestamp dating the row also gets its day in business_timezone (created_at -> created_date) -#}
    {%- set event_instants = columns | selectattr('name', 'equalto', contract.event_date)
        | selectattr('type', 'equalto', 'timestamp') | map(attribute='staged') | list -%}
    {#- what a non-blank value must parse to, lest its row be rejected: '<column> is not a <kind>' -#}
    {%- set reason_kinds = {'date': 'date', 'timestamp': 'date', 'integer': 'whole number', 'boolean': 'consent flag'} -%}
    {%- set checked = {} -%}
    {%- for column in columns if column.type in reason_kinds -%}
        {%- do checked.update({column.name: column.name ~ '_value' if column in dates
            else field_crm_parsed(column.name, column.type)}) -%}
    {%- endfor -%}
    {#- a key column by its staged value (a name by its matching key) -#}
    {%- set keys = [] -%}
    {%- for name in contract.key -%}
        {%- set column = columns | selectattr('name', 'equalto', name) | first -%}
        {%- do keys.append(name ~ '_name_key' if name in spellings else column.staged) -%}
    {%- endfor -%}
    {%- set mode = keyed_mode() -%}
    {%- set carried = ['raw_values', 'parse_errors', '_extra'] + lineage + ['_disposition_group'] %}
with

{{ screened_source(
    relation, names + ['_extra'] + lineage, pii + ['_extra'] if suppressions is not none else [], identifiers,
    where=keyed_new_loads(),
) }}
{%- if spellings %}

-- each spelling's matching key, folded once per distinct spelling (not per row)
spelling_keys as (

    {{ field_crm_spelling_keys('source', spellings) }}

),
{%- endif %}

keyed as (

    select
        {%- for name in names + ['_extra'] + lineage %}
        source.{{ name }}{{ ',' if not loop.last or dates or spellings }}
        {%- endfor %}
        {%- for column in dates %}
        {{ column.name }}_parsed.{{ column.name }}_value{{ ',' if not loop.last or spellings }}
        {%- endfor %}
        {%- for name in spellings %}
        {{ name }}_keys.name_key as {{ name }}_name_key{{ ',' if not loop.last }}
        {%- endfor %}
    from source
    {%- for column in dates %}
    {{ field_crm_evaluate_once(
        column.name ~ '_parsed', column.name ~ '_value', field_crm_parsed('source.' ~ column.name, column.type)
    ) }}
    {%- endfor %}
    {{- field_crm_spelling_key_joins('source', spellings) }}

),

parsed_values as (

    select
        {%- for name, expression in staged %}
        {{ expression }}{{ ' as ' ~ name if expression | trim != name }},
        {%- endfor %}
        {{ crm_raw_values(names) }} as raw_values,
        nullif(
            concat_ws(
                '; '
                {%- for column in columns %}
                {%- set kind = reason_kinds.get(column.type) %}
                {%- if kind or column.required %},
                {{ field_crm_reason(column.name, checked.get(column.name), kind or 'value', column.required) }}
                {%- endif %}
                {%- endfor %}
            ),
            ''
        ) as parse_errors,
        {%- for name in ['_extra'] + lineage %}
        {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from keyed

),

parsed as (

    select
        {%- for name in staged_names + carried[:-1] %}
        {{ name }},
        {%- endfor %}
        {{ crm_surrogate_key(keys) }} as _disposition_group
    from parsed_values
    {%- if mode == 'keys' %}
    union all
    -- the rows already held of the keys the new loads touch: their dispositions are derived again
    select
        {%- for name in staged_names + carried %}
        {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }}
    where _disposition_group = any(array(select {{ crm_surrogate_key(keys) }} from parsed_values))
    {%- endif %}

),

numbered as (

    select
        {%- for name in staged_names + carried %}
        {{ name }},
        {%- endfor %}
        row_number() over copies as copy_number,
        first_value(_source_file || ':' || _source_line) over copies as first_copy
    from parsed
    window copies as (
        partition by raw_values, _extra
        order by _load_id, _source_file, _source_line
    )

),

versioned as (

    select
        {%- for name in staged_names + carried + ['copy_number', 'first_copy'] %}
        {{ name }},
        {%- endfor %}
        -- the latest parseable version of a key wins; earlier differing versions are superseded
        row_number() over latest as version_number,
        first_value(_source_file || ':' || _source_line) over latest as latest_version
    from numbered
    window latest as (
        partition by {{ keys | join(', ') }}, (copy_number = 1 and parse_errors is null)
        order by _load_id desc, _source_file desc, _source_line desc
    )

),

final as (

    select
        {%- for name in staged_names %}
        {{ name }},
        {%- if name in event_instants %}
        {{ to_business_date(name) }} as {{ name[:-3] if name.endswith('_at') else name }}_date,
        {%- endif %}
        {%- endfor %}
        raw_values,
        case
            when copy_number > 1 then 'duplicate'
            when parse_errors is not null or version_number > 1 then 'rejected'
            else 'staged'
        end as row_disposition,
        case
            when copy_number > 1 then 'exact duplicate of ' || first_copy
            when parse_errors is not null then parse_errors
            when version_number > 1
                then
                    'superseded by a later row of {{ contract.key_label }} '
                    || {{ keys | join(" || ' / ' || ") }} || ' at ' || latest_version
        end as disposition_reason,
        {%- for name in lineage %}
        {{ name }},
        {%- endfor %}
        parse_errors,
        _extra,
        _disposition_group
    from versioned

)

select * from final
    {%- endif -%}
{%- endmacro %}
