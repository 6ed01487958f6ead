{#-
  Parsing and normalisation rules of the field-service CRM export (source `field_crm`).

  Every macro returns one SQL expression over text, returns null for what it cannot parse (never raises), and is
  safe under constant folding (guards come before any cast that could fail), so dbt unit tests on literal inputs
  behave like runs on tables. Staging records a reject reason whenever a non-blank date, number or code parses to null;
  an unreadable amount keeps its row (null amount, an exception row naming the value).

  Text folding does not rely on the database locale (the embedded server runs with the C locale, where lower()
  leaves 'Ü' alone): Latin-1 capitals are lower-cased with an explicit map first.
-#}

{#- Lower-case including Latin-1 capitals (locale independent). -#}
{% macro field_crm_lower(expr) -%}
    lower(translate({{ expr }}, 'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞŒŠŽŸ', 'àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþœšžÿ'))
{%- endmacro %}

{#-
  Fold a name into lower-case ASCII words separated by single spaces:
    1. "Last, First" (exactly one comma) becomes "First Last" when reorder_comma (people's names);
    2. case folded (Latin-1 capitals included);
    3. German transliteration ä->ae, ö->oe, ü->ue, ß->ss (so "Jörg Müller" = "Joerg Mueller"),
       then other accents dropped (é->e, ç->c, ...), æ->ae, œ->oe, þ->th;
    4. apostrophes and dots removed ("O'Connor" = "OConnor", "J." = "J");
    5. any other run of whitespace or punctuation ("-", "_", "/", ...) becomes one space; trimmed.
-#}
{% macro field_crm_fold_name(expr, reorder_comma=true) -%}
    {%- if reorder_comma -%}
        {%- set text -%}
            case
                when {{ expr }} ~ '^[^,]+,[^,]+$'
                    then split_part({{ expr }}, ',', 2) || ' ' || split_part({{ expr }}, ',', 1)
                else {{ expr }}
            end
        {%- endset -%}
    {%- else -%}
        {%- set text = expr -%}
    {%- endif -%}
    btrim(regexp_replace(regexp_replace(
        translate(
            replace(replace(replace(replace(replace(replace(replace(
                {{ field_crm_lower(text) }},
                'ä', 'ae'), 'ö', 'oe'), 'ü', 'ue'), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'þ', 'th'),
            'àáâãåçèéêëìíîïðñòóôõøùúûýÿšž', 'aaaaaceeeeiiiidnooooouuuyysz'),
        '[''’`´.]', '', 'g'),
        '[[:space:][:punct:]]+', ' ', 'g'))
{%- endmacro %}

{#-
  Matching key of a name: the folded name without spaces ("GoogleAds" = "Google Ads", "walk in" = "Walk-in").
  Canonical names and aliases are keyed the same way, so a seed entry covers every case/spacing of itself.
-#}
{% macro field_crm_name_key(expr, reorder_comma=true) -%}
    nullif(replace({{ field_crm_fold_name(expr, reorder_comma) }}, ' ', ''), '')
{%- endmacro %}

{#-
  Rows (spelling_column, raw_value, name_key) for the distinct spellings of some columns of `relation`: the
  matching key of each spelling is folded once, not once per row (folding is a chain of regular expressions,
  and a column of millions of rows holds a few hundred spellings). `columns` maps a column to reorder_comma.
  A model joins it once per column on (spelling_column, raw_value); a null spelling finds no row (key null).
-#}
{% macro field_crm_spelling_keys(relation, columns) -%}
    {%- for column, reorder_comma in columns.items() %}
    {% if not loop.first %}union all{% endif %}
    select
        '{{ column }}' as spelling_column,
        spelling as raw_value,
        {{ field_crm_name_key('spelling', reorder_comma) }} as name_key
    from (select distinct {{ column }} as spelling from {{ relation }}) as {{ column }}_spellings
    {%- endfor %}
{%- endmacro %}

{#- The joins to field_crm_spelling_keys (CTE `spelling_keys`) for these columns of `relation`: alias <column>_keys. -#}
{% macro field_crm_spelling_key_joins(relation, columns) -%}
    {%- for column in columns %}
    left join spelling_keys as {{ column }}_keys
        on {{ column }}_keys.spelling_column = '{{ column }}' and {{ relation }}.{{ column }} = {{ column }}_keys.raw_value
    {%- endfor %}
{%- endmacro %}

{#-
  A join clause adding `expression` as `alias.column`, evaluated once per row: the fence (`limit all offset 0`)
  keeps the planner from inlining the expression into every reference to it (a parsed date and its reject
  reason), and repeated inputs are cached (Memoize). For the date parsers, whose cost is a subquery per call.
-#}
{% macro field_crm_evaluate_once(alias, column, expression) -%}
    cross join lateral (select {{ expression }} as {{ column }} limit all offset 0) as {{ alias }}
{%- endmacro %}

{#- A status word folded for the status seed: lower case, '_'/'-'/whitespace runs -> one space, trimmed. -#}
{% macro field_crm_fold_status(expr) -%}
    nullif(btrim(regexp_replace({{ field_crm_lower(expr) }}, '[[:space:]_-]+', ' ', 'g')), '')
{%- endmacro %}

{#-
  Date/time text -> a row source `parts` with y, m, d, hh, mi, ss (numbers) and tz_offset (text), all null when
  the text is not one of: YYYY-MM-DD, YYYY-MM-DD[T| ]HH:MM[:SS[.ffffff]][Z|+HH:MM|+HHMM], MM/DD/YYYY [HH:MM[:SS]].
  US dates are rewritten to ISO order first. The shape is checked with `~` (no capturing regex: PostgreSQL's
  capturing matcher costs ~0.1 ms a call), then split; ranges are checked by the callers. `limit all offset 0`
  keeps the planner from inlining each step into every use of it (which multiplied the regex work per row).
-#}
{% macro _field_crm_ts_parts(expr) -%}
    {%- set shape = '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}'
        ~ '( [0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$' -%}
    (
        select
            split_part(day_text, '-', 1)::int as y,
            split_part(day_text, '-', 2)::int as m,
            split_part(day_text, '-', 3)::int as d,
            nullif(split_part(clock_text, ':', 1), '')::int as hh,
            nullif(split_part(clock_text, ':', 2), '')::int as mi,
            nullif(split_part(clock_text, ':', 3), '')::numeric as ss,
            nullif(substr(time_text, length(clock_text) + 1), '') as tz_offset
        from (
            select
                split_part(shaped, ' ', 1) as day_text,
                split_part(shaped, ' ', 2) as time_text,
                split_part(split_part(split_part(split_part(shaped, ' ', 2), 'Z', 1), '+', 1), '-', 1) as clock_text
            from (
                select case
                    when normalised ~ '{{ shape }}'
                        then normalised
                end as shaped
                from (
                    select replace(
                        regexp_replace(btrim({{ expr }}), '^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})', '\3-\1-\2'), 'T', ' '
                    ) as normalised
                    limit all offset 0
                ) as normalised_text
                limit all offset 0
            ) as shaped_text
        ) as split_text
    ) as parts
{%- endmacro %}

{#- True when the parts of _field_crm_ts_parts form a real calendar date (leap years included) and time. -#}
{% macro _field_crm_valid_date() -%}
    coalesce(hh, 0) <= 23
    and coalesce(mi, 0) <= 59
    and coalesce(ss, 0) < 60
    and y >= 1
    and m between 1 and 12
    and d between 1 and case
        when m = 2 then case when y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0) then 29 else 28 end
        when m in (4, 6, 9, 11) then 30
        else 31
    end
{%- endmacro %}

{#- ISO 8601 or MM/DD/YYYY text -> date (the written calendar day; a valid time part is allowed and ignored). -#}
{% macro field_crm_parse_date(expr) -%}
    (
        select case when {{ _field_crm_valid_date() }} then make_date(y, m, d) end
        from {{ _field_crm_ts_parts(expr) }}
    )
{%- endmacro %}

{#-
  ISO 8601 or MM/DD/YYYY text -> timestamptz. Without an offset the value is wall-clock time in the business time
  zone (var business_timezone); a date alone is midnight there. 'Z' / '+HH:MM' offsets are honoured.
-#}
{% macro field_crm_parse_timestamp(expr) -%}
    (
        select case
            when {{ _field_crm_valid_date() }}
                then case
                    when tz_offset is null
                        then make_timestamp(y, m, d, coalesce(hh, 0), coalesce(mi, 0), coalesce(ss, 0)::float8)
                        at time zone '{{ business_timezone() }}'
                    else (
                        make_timestamp(y, m, d, coalesce(hh, 0), coalesce(mi, 0), coalesce(ss, 0)::float8)
                        - make_interval(mins => case
                            when tz_offset = 'Z' then 0
                            else (case when left(tz_offset, 1) = '-' then -1 else 1 end)
                                * (substr(tz_offset, 2, 2)::int * 60 + right(tz_offset, 2)::int)
                        end)
                    ) at time zone 'UTC'
                end
        end
        from {{ _field_crm_ts_parts(expr) }}
    )
{%- endmacro %}

{#-
  Money text -> numeric(16, 2): "1234.5", "1,234.50", "$1,234.50", "-$12", "$-12" (rounded to cents).
  Blank, "n/a", "TBD", "#VALUE!" and anything else -> null. An unreadable amount does not reject its row: staging
  keeps the booking / job with an empty amount and names the value (field_crm_unreadable_value), and
  field_service_exceptions lists it.
-#}
{% macro field_crm_parse_money(expr) -%}
    case
        when btrim({{ expr }}) ~ '^(-\$?|\$-?)?[[:space:]]*([0-9]{1,12}|[0-9]{1,3}(,[0-9]{3}){1,3})(\.[0-9]{1,6})?$'
            then round(regexp_replace(btrim({{ expr }}), '[$,[:space:]]', '', 'g')::numeric, 2)::numeric(16, 2)
    end
{%- endmacro %}

{#-
  The raw text (trimmed) of a value that is not blank but does not parse (`parsed` is null), else null: what
  staging keeps beside an amount it could not read, so the row stays and the exception can name the value.
-#}
{% macro field_crm_unreadable_value(column, parsed) -%}
    case when btrim({{ column }}) <> '' and {{ parsed }} is null then btrim({{ column }}) end
{%- endmacro %}

{#- Whole non-negative number text ("42") -> integer; anything else -> null. -#}
{% macro field_crm_parse_int(expr) -%}
    case when btrim({{ expr }}) ~ '^[0-9]{1,9}$' then btrim({{ expr }})::int end
{%- endmacro %}

{#- Consent text -> 'granted' (true/yes/y/1), 'denied' (false/no/n/0), 'unknown' (blank); else null. -#}
{% macro field_crm_parse_consent(expr) -%}
    case
        when btrim({{ expr }}) = '' then 'unknown'
        when lower(btrim({{ expr }})) in ('true', 'yes', 'y', '1', 'granted') then 'granted'
        when lower(btrim({{ expr }})) in ('false', 'no', 'n', '0', 'denied') then 'denied'
    end
{%- endmacro %}

{#- E-mail: every whitespace removed, lower-cased; null unless it looks like local@domain.tld. -#}
{% macro field_crm_normalise_email(expr) -%}
    case
        when lower(regexp_replace({{ expr }}, '[[:space:]]+', '', 'g')) ~ '^[^@]+@[^@]+\.[^@.]+$'
            then lower(regexp_replace({{ expr }}, '[[:space:]]+', '', 'g'))
    end
{%- endmacro %}

{#-
  Phone -> dialable form: digits only, with a leading '+' when the number was written in international form
  ("+49 30 1234567" -> "+49301234567", "0049301234567" -> "+49301234567", "(030) 123 4567" -> "0301234567").
  Null when blank or when it holds anything but digits, spaces and + - ( ) . / separators.
-#}
{% macro field_crm_clean_phone(expr) -%}
    case
        when btrim({{ expr }}) ~ '^\+?[0-9 ()./-]*[0-9][0-9 ()./-]*$'
            then case
                when btrim({{ expr }}) like '+%' then '+' || regexp_replace({{ expr }}, '[^0-9]', '', 'g')
                when regexp_replace({{ expr }}, '[^0-9]', '', 'g') like '00%'
                    then '+' || substr(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), 3)
                else regexp_replace({{ expr }}, '[^0-9]', '', 'g')
            end
    end
{%- endmacro %}

{#-
  A cleaned phone (field_crm_clean_phone) -> E.164 digits without '+', given the calling code of the country the
  customer is served from (the branch's country) and whether that country dials a national trunk prefix '0':
    international ("+...")                      -> as written;
    national with trunk ("030...")              -> calling code + number without the '0';
    national without trunk (NANP "6177445619")  -> calling code + number;
  valid when 8 to 15 digits not starting with 0; else (or country unknown for a national number) null.
-#}
{% macro field_crm_phone_e164(cleaned, calling_code, has_trunk_prefix) -%}
    (
        select case when e164 ~ '^[1-9][0-9]{7,14}$' then e164 end
        from (
            select case
                when {{ cleaned }} like '+%' then substr({{ cleaned }}, 2)
                when {{ has_trunk_prefix }} and {{ cleaned }} like '0%'
                    then {{ calling_code }} || substr({{ cleaned }}, 2)
                when not {{ has_trunk_prefix }} and {{ calling_code }} = '1' and {{ cleaned }} like '1%'
                    then {{ cleaned }}
                when not {{ has_trunk_prefix }} then {{ calling_code }} || {{ cleaned }}
            end as e164
        ) as phone
    )
{%- endmacro %}

{#-
  Reject reason of one raw value, or null when it is fine:
    '<column> is missing'                  required and blank;
    '<column> is not a <kind>: ''<raw>'''  not blank but `parsed` (the parsed expression) is null.
  Staging joins the reasons of a row with '; ' (concat_ws skips the nulls).
-#}
{% macro field_crm_reason(column, parsed=none, kind='value', required=true) -%}
    case
        {%- if required %}
        when btrim({{ column }}) = '' then '{{ column }} is missing'
        {%- endif %}
        {%- if parsed is not none %}
        when btrim({{ column }}) <> '' and {{ parsed }} is null
            then '{{ column }} is not a {{ kind }}: ' || quote_literal(btrim({{ column }}))
        {%- endif %}
    end
{%- endmacro %}

{#-
  Canonical key of a raw spelling, given the alias of a join to int_field_service__name_variants on it:
  'unknown' when the spelling is blank, 'unresolved' when it matched nothing (listed in field_service_exceptions).
-#}
{% macro field_crm_resolved_key(raw, variants_alias) -%}
    case
        when coalesce(btrim({{ raw }}), '') = '' then 'unknown'
        else coalesce({{ variants_alias }}.canonical_key, 'unresolved')
    end
{%- endmacro %}

{#- The first key that is a real member (not 'unknown' / 'unresolved'), else the first one given. -#}
{% macro field_crm_prefer_key(keys) -%}
    coalesce(
        {%- for key in keys %}
        case when {{ key }} not in ('unknown', 'unresolved') then {{ key }} end,
        {%- endfor %}
        {{ keys[0] }}
    )
{%- endmacro %}
