{#-
  Right to be forgotten, applied in staging. `funnel forget` (orchestration/ops/privacy.py) records the forgotten
  subject's identifiers in privacy.suppressions as sha256 hashes only (never the plain value):
    kind 'email'  sha256 of the normalised e-mail (field_crm_normalise_email: lower case, no whitespace)
    kind 'phone'  sha256 of the phone's digits only (no '+', no separators)
  A staging row whose e-mail or phone hash is listed loses every personal column, so no rebuild, backfill or
  re-landed export brings a forgotten subject back. The uncorrelated `exists` runs once per query: with an
  empty list the per-row hashing is skipped.
-#}

{#- sha256 (hex) of a text expression; null stays null. -#}
{% macro privacy_hash(expr) -%}
    encode(sha256(convert_to({{ expr }}, 'UTF8')), 'hex')
{%- endmacro %}

{#- Digits of a phone as the suppression list hashes them. -#}
{% macro privacy_phone_digits(expr) -%}
    nullif(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), '')
{%- endmacro %}

{#-
  True when any of the given [kind, sql expression] identifiers is on the suppression list. Expressions are
  raw text columns; they are normalised here the way `funnel forget` normalises its input.
-#}
{% macro privacy_is_suppressed(identifiers) -%}
    (
        exists (select 1 from {{ source('privacy', 'suppressions') }})
        and exists (
            select 1
            from {{ source('privacy', 'suppressions') }} as suppression
            where
                {%- for kind, expr in identifiers %}
                {% if not loop.first %}or {% endif -%}
                (
                    suppression.kind = '{{ kind }}'
                    and suppression.value_hash = {{ privacy_hash(privacy_normalise(kind, expr)) }}
                )
                {%- endfor %}
        )
    )
{%- endmacro %}

{% macro privacy_normalise(kind, expr) -%}
    {%- if kind == 'email' -%}
        lower(regexp_replace({{ expr }}, '[[:space:]]+', '', 'g'))
    {%- elif kind == 'phone' -%}
        {{ privacy_phone_digits(expr) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("privacy_normalise: unknown identifier kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}
