{#-
  Cleaning and typing helpers for raw CRM text (source-agnostic: the loader lands every CSV value as text).
  Each `crm_is_*` predicate says whether a cleaned value can be typed; the matching `crm_to_*` casts it and
  returns null for anything it cannot type, so a model never fails on one bad value: it rejects the row
  instead (see the base_* models and stg_pipedrive__rejects). pg_input_is_valid needs PostgreSQL >= 16.
-#}

{#- Trimmed text; blank (empty or only whitespace) becomes null: the one text clean-up of every source. -#}
{% macro clean_text(expr) -%}
    nullif(btrim({{ expr }}), '')
{%- endmacro %}

{#-
  An integer that fits a bigint, written as digits with an optional sign (no spaces, decimals, underscores
  or hex, which PostgreSQL's own input would accept).
-#}
{% macro crm_is_bigint(expr) -%}
    coalesce(pg_input_is_valid({{ expr }}, 'bigint') and translate({{ expr }}, '+-0123456789', '') = '', false)
{%- endmacro %}

{% macro crm_to_bigint(expr) -%}
    case when {{ crm_is_bigint(expr) }} then cast({{ expr }} as bigint) end
{%- endmacro %}

{#- A plain decimal number (no NaN / Infinity / underscores). -#}
{% macro crm_is_numeric(expr) -%}
    coalesce(
        pg_input_is_valid({{ expr }}, 'numeric') and translate({{ expr }}, '+-.eE0123456789', '') = '',
        false
    )
{%- endmacro %}

{% macro crm_to_numeric(expr) -%}
    case when {{ crm_is_numeric(expr) }} then cast({{ expr }} as numeric) end
{%- endmacro %}

{#-
  An ISO date or date-time ('2024-04-09', '2024-04-09 21:32:09', '2024-04-09T21:32:09.123456', optionally
  with 'Z' or a +hh:mm offset) that is a real calendar instant. Words PostgreSQL would accept ('now',
  'today', 'infinity') and other layouts ('Apr 9 2024') are refused.
-#}
{% macro crm_is_timestamp(expr) -%}
    coalesce(
        {{ expr }} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]+(Z|[+-][0-9:]+)?)?$'
        and pg_input_is_valid({{ expr }}, 'timestamptz'),
        false
    )
{%- endmacro %}

{#-
  The instant a text timestamp that passed crm_is_timestamp denotes: with an offset ('Z', +hh:mm after the
  date) as written, without one interpreted in `zone`. Unchecked: use crm_to_timestamptz for unknown text.
-#}
{% macro crm_cast_timestamptz(expr, zone='UTC') -%}
    case
        when
            right({{ expr }}, 1) = 'Z'
            or strpos(substr({{ expr }}, 11), '+') > 0
            or strpos(substr({{ expr }}, 11), '-') > 0
            then cast({{ expr }} as timestamptz)
        else cast({{ expr }} as timestamp) at time zone '{{ zone }}'
    end
{%- endmacro %}

{#- The instant a text timestamp denotes, or null when it is not a valid timestamp (see crm_is_timestamp). -#}
{% macro crm_to_timestamptz(expr, zone='UTC') -%}
    case when {{ crm_is_timestamp(expr) }} then {{ crm_cast_timestamptz(expr, zone) }} end
{%- endmacro %}

{#- Booleans as CRMs write them: True/False, Yes/No, Y/N, T/F, 1/0 (any case). -#}
{% macro crm_is_boolean(expr) -%}
    coalesce(lower({{ expr }}) in ('true', 'false', 'yes', 'no', 'y', 'n', 't', 'f', '1', '0'), false)
{%- endmacro %}

{% macro crm_to_boolean(expr) -%}
    case
        when lower({{ expr }}) in ('true', 'yes', 'y', 't', '1') then true
        when lower({{ expr }}) in ('false', 'no', 'n', 'f', '0') then false
    end
{%- endmacro %}

{#- Days (fractional, 4 decimals) between two instants; null when either is null. -#}
{% macro crm_days_between(start_at, end_at) -%}
    round(cast(extract(epoch from ({{ end_at }} - {{ start_at }})) / 86400.0 as numeric), 4)
{%- endmacro %}

{#- The instant a business day ends: midnight after `day` in the business time zone (DST-safe). -#}
{% macro business_day_end(day) -%}
    cast(cast({{ day }} as date) + 1 as timestamp) at time zone '{{ business_timezone() }}'
{%- endmacro %}

{#-
  A deterministic md5 key over a list of SQL expressions (null-safe, '|'-separated). Pass timestamps as
  `extract(epoch from ts)` so the key does not depend on the session time zone.
-#}
{% macro crm_surrogate_key(exprs) -%}
    md5(
        {%- for expr in exprs %}
        coalesce(cast({{ expr }} as text), '<null>'){{ " || '|' ||" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The raw text columns of a source row as one jsonb object, for rejects and audits. -#}
{% macro crm_raw_values(columns, relation_alias=none) -%}
    jsonb_build_object(
        {%- for column in columns %}
        '{{ column }}', {{ relation_alias ~ '.' if relation_alias }}{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- First day of the month of a date (no time zone involved: the date is already cut). -#}
{% macro crm_month_start(date_expr) -%}
    cast(date_trunc('month', cast({{ date_expr }} as timestamp)) as date)
{%- endmacro %}
