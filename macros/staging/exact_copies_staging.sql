{#-
  The base model of a source whose contract says `dedupe: exact_copies` (Pipedrive): every raw row, cleaned and
  typed as the source's YAML contract says, with its disposition (macros/staging/dispositions.sql):
    staged     the first copy (by load, file, line) of a row that can be typed;
    duplicate  an exact copy of it (identical after trimming): 'exact duplicate of <file>:<line>';
    rejected   a row that cannot be typed, with the reason.
  Every distinct row is staged (no version of a key supersedes another); source_rows_count says how many raw rows
  a staged row stands for. The graph is empty while dbt parses, so the dependencies are the arguments; parsing
  renders a placeholder.
-#}

{#- Whether cleaned text can be typed as a contract type: a SQL predicate (none for text and e-mail, kept as text). -#}
{% macro typed_check(expr, type) -%}
    {%- if type == 'integer' -%} {{ crm_is_bigint(expr) }}
    {%- elif type == 'number' -%} {{ crm_is_numeric(expr) }}
    {%- elif type == 'boolean' -%} {{ crm_is_boolean(expr) }}
    {%- elif type == 'timestamp' -%} {{ crm_is_timestamp(expr) }}
    {%- elif type == 'json' -%} pg_input_is_valid({{ expr }}, 'jsonb')
    {%- elif type not in ('text', 'email') -%}
        {{ exceptions.raise_compiler_error('typed_check: unknown type ' ~ type) }}
    {%- endif -%}
{%- endmacro %}

{#- Cleaned text that passed typed_check, as its contract type (unchecked: fails on text it cannot type). -#}
{% macro typed_value(expr, type) -%}
    {%- if type == 'integer' -%} cast({{ expr }} as bigint)
    {%- elif type == 'number' -%} cast({{ expr }} as numeric)
    {%- elif type == 'boolean' -%} {{ crm_to_boolean(expr) }}
    {%- elif type == 'timestamp' -%} {{ crm_cast_timestamptz(expr) }}
    {%- elif type == 'json' -%} cast({{ expr }} as jsonb)
    {%- else -%} {{ expr }}
    {%- endif -%}
{%- endmacro %}

{#-
  The select of a base model of an exact_copies source. `relation`: source(<source>, <table>);
  `columns`: the output columns (staged names) in order, default the contract's order; a name that is not a
    contract column is a `derived` one;
  `derived`: output name -> [condition, expression] over the cleaned raw columns, typed only where the row is
    and the condition holds;
  `reason_order`: the raw columns in the order their reasons are tested (a row gets the first), default the
    contract's order;
  `checks`: raw column -> [[condition, reason], ...] tested right after that column's own (missing / type) ones;
  `lookup`: {relation, key, columns}: a lookup left-joined on `key` (a raw column), its columns usable in checks;
  `suppressions`: source('privacy', 'suppressions') when the table has pii columns (blanked for a forgotten
    subject, matched on its email / phone columns).
-#}
{% macro typed_with_disposition(
    relation, columns=none, derived={}, reason_order=none, checks={}, lookup=none, suppressions=none
) -%}
    {%- if not execute -%}
        select 1 as parsing_placeholder
    {%- else -%}
    {%- set contract = source_contract(relation) -%}
    {%- if contract.dedupe != 'exact_copies' -%}
        {{ exceptions.raise_compiler_error(relation ~ ': dedupe ' ~ contract.dedupe ~ ' is not exact_copies') }}
    {%- endif -%}
    {%- set names = contract.columns | map(attribute='name') | list -%}
    {%- set by_name = {} -%}
    {%- set by_staged = {} -%}
    {%- for column in contract.columns -%}
        {%- do by_name.update({column.name: column}) -%}
        {%- do by_staged.update({column.staged: column}) -%}
    {%- endfor -%}
    {%- set outputs = columns or (contract.columns | map(attribute='staged') | list) -%}
    {%- set tested = reason_order or names -%}
    {%- if (outputs | reject('in', derived) | sort | list) != (by_staged | sort | list)
        or (tested | sort | list) != (names | sort | list) -%}
        {{ exceptions.raise_compiler_error(
            relation ~ ': columns must name every staged column once, reason_order every raw column once'
        ) }}
    {%- endif -%}
    {%- set lineage = loader_lineage_columns() -%}
    {#- a copy group's key: the contract key, typed (copies agree on every output, so on these) -#}
    {%- set group_key = [] -%}
    {%- for name in contract.key -%}
        {%- set column = by_name[name] -%}
        {%- do group_key.append(
            'extract(epoch from ' ~ column.staged ~ ')' if column.type == 'timestamp' else column.staged
        ) -%}
    {%- endfor -%}
    {%- set mode = keyed_mode() -%}
    {%- set personal = contract_personal_columns(contract, relation, suppressions) -%}
    {%- set pii, identifiers = personal.pii, personal.identifiers -%}
    {#- what a value that is not blank must be, lest its row be rejected: '<column> is not <kind>' -#}
    {%- set kinds = {
        'integer': 'an integer', 'number': 'a number', 'boolean': 'a boolean',
        'timestamp': 'a valid timestamp', 'json': 'JSON',
    } -%}
    {%- set reasons = [] -%}
    {%- for name in tested -%}
        {%- set column = by_name[name] -%}
        {%- if column.required -%}
            {%- do reasons.append([name ~ ' is null', name ~ ' is missing']) -%}
        {%- endif -%}
        {%- if column.type in kinds -%}
            {%- do reasons.append([
                ('' if column.required else name ~ ' is not null and ') ~ 'not ' ~ typed_check(name, column.type),
                name ~ ' is not ' ~ kinds[column.type],
            ]) -%}
        {%- endif -%}
        {%- do reasons.extend(checks.get(name, [])) -%}
    {%- endfor %}
with

{{ screened_source(
    relation, names + lineage, pii if suppressions is not none else [], identifiers, where=keyed_new_loads()
) }}
{%- if lookup is not none %}

lookup as (

    select
        {%- for name in [lookup.key] + lookup.columns %}
        {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ lookup.relation }}

),
{%- endif %}

cleaned as (

    select
        {%- for column in contract.columns %}
        {%- if column.type == 'email' %}
        lower({{ clean_text(column.name) }}) as {{ column.name }},
        {%- else %}
        {{ clean_text(column.name) }} as {{ column.name }},
        {%- endif %}
        {%- endfor %}
        {{ crm_raw_values(names) }} as raw_values,
        {{ loader_lineage() }}
    from source

),

-- materialized: `final` tests reject_reason in every typed column, and an inlined CTE would repeat the
-- whole validation (regexes, pg_input_is_valid) once per column and row
checked as materialized (

    select
        {%- for name in names + (lookup.columns if lookup is not none else []) %}
        {{ name }},
        {%- endfor %}
        raw_values,
        {{ loader_lineage() }},
        case
            {%- for condition, reason in reasons %}
            when {{ condition }} then '{{ reason }}'
            {%- endfor %}
        end as reject_reason
    from cleaned
    {%- if lookup is not none %}
    left join lookup using ({{ lookup.key }})
    {%- endif %}

),

typed as (

    select
        {%- for name in outputs %}
        {%- if name in derived %}
        case when reject_reason is null and {{ derived[name][0] }} then {{ derived[name][1] }} end as {{ name }},
        {%- elif by_staged[name].type in kinds %}
        case
            when reject_reason is null then {{ typed_value(by_staged[name].name, by_staged[name].type) }}
        end as {{ name }},
        {%- else %}
        {{ by_staged[name].name }}{{ ' as ' ~ name if name != by_staged[name].name }},
        {%- endif %}
        {%- endfor %}
        reject_reason,
        raw_values,
        {{ loader_lineage() }}
    from checked

),

grouped as (

    select
        {%- for name in outputs + ['reject_reason', 'raw_values'] + lineage %}
        {{ name }},
        {%- endfor %}
        case when reject_reason is null then {{ crm_surrogate_key(group_key) }} end as _disposition_group
    from typed
    {%- if mode == 'keys' %}
    union all
    -- the rows already held of the copy groups the new loads touch: their dispositions are derived again
    select
        {%- for name in outputs %}
        {{ name }},
        {%- endfor %}
        null as reject_reason,
        raw_values,
        {{ loader_lineage() }},
        _disposition_group
    from {{ this }}
    where _disposition_group = any(array(
        select {{ crm_surrogate_key(group_key) }} from typed where reject_reason is null
    ))
    {%- endif %}

),

numbered as (

    select
        {%- for name in outputs + ['reject_reason', 'raw_values'] + lineage %}
        {{ name }},
        {%- endfor %}
        _disposition_group,
        row_number() over copies as copy_number,
        count(*) over (copies rows between unbounded preceding and unbounded following) as copies_count,
        first_value(_source_file || ':' || _source_line) over copies as first_copy
    from grouped
    window copies as (
        partition by reject_reason is null, {{ outputs | join(', ') }}
        order by _load_id, _source_file, _source_line
    )

),

final as (

    select
        {%- for name in outputs %}
        {{ name }},
        {%- endfor %}
        case when reject_reason is null and copy_number = 1 then copies_count end as source_rows_count,
        raw_values,
        case
            when reject_reason is not null then 'rejected'
            when copy_number > 1 then 'duplicate'
            else 'staged'
        end as row_disposition,
        case
            when reject_reason is not null then reject_reason
            when copy_number > 1 then 'exact duplicate of ' || first_copy
        end as disposition_reason,
        {{ loader_lineage() }},
        _disposition_group
    from numbered

)

select * from final
    {%- endif -%}
{%- endmacro %}
