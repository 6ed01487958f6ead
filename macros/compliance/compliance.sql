{#-
  Region, GDPR consent and data retention for any source system, from the seeds in seeds/compliance/.
  Source-agnostic: a model names its source system and the subjects to look up, in order of precedence, as
  [subject_type, sql expression of the subject's id] pairs, e.g. [['deal', 'deal_id'], ['user', 'owner_id']].

  Safe defaults when nothing matches (vars, documented in docs/funnel.md):
    compliance_default_region          'unassigned'
    compliance_default_consent         'unknown'
    compliance_default_retention_days  365 (the shortest period, used when no policy matches at all)

  Each macro is a scalar SQL expression (a lookup in its seed, read once per query), usable in any select list.
-#}

{#-
  The seeds are read once per query, into a map '<subject_type>:<subject_id>' -> value (an uncorrelated subquery:
  PostgreSQL runs it once); each row only looks its subjects up. A lookup correlated with each row ran once per
  row and subject: millions of scans of a seed in one full build at L.
-#}
{% macro _compliance_value(map_sql, subjects, default) -%}
    coalesce(
        {%- for subject_type, subject_expr in subjects %}
        {{ map_sql }} ->> ('{{ subject_type }}:' || cast({{ subject_expr }} as text)),
        {%- endfor %}
        '{{ default }}'
    )
{%- endmacro %}

{#- Region of the first subject with an assignment to a region listed in compliance_regions (the first region in
    alphabetical order when a subject has several). -#}
{% macro compliance_region(source_system, subjects) -%}
    {%- set region_by_subject -%}
        (
            select jsonb_object_agg(assigned.subject_key, assigned.region)
            from (
                select
                    assignment.subject_type || ':' || assignment.subject_id as subject_key,
                    min(assignment.region) as region
                from {{ ref('compliance_region_assignments') }} as assignment
                inner join {{ ref('compliance_regions') }} as known_region
                    on assignment.region = known_region.region
                where
                    assignment.source_system = '{{ source_system }}'
                    and assignment.subject_type is not null
                    and assignment.subject_id is not null
                group by assignment.subject_type, assignment.subject_id
            ) as assigned
        )
    {%- endset -%}
    {{ _compliance_value(region_by_subject, subjects, var("compliance_default_region", "unassigned")) }}
{%- endmacro %}

{#- Consent of the first subject with a recorded consent: its latest (recorded_at; undated last, then by value). -#}
{% macro compliance_consent(source_system, subjects) -%}
    {%- set consent_by_subject -%}
        (
            select jsonb_object_agg(latest.subject_key, latest.gdpr_consent)
            from (
                select distinct on (consent.subject_type, consent.subject_id)
                    consent.subject_type || ':' || consent.subject_id as subject_key,
                    consent.gdpr_consent
                from {{ ref('compliance_consents') }} as consent
                where
                    consent.source_system = '{{ source_system }}'
                    and consent.subject_type is not null
                    and consent.subject_id is not null
                order by
                    consent.subject_type,
                    consent.subject_id,
                    consent.recorded_at desc nulls last,
                    consent.gdpr_consent
            ) as latest
        )
    {%- endset -%}
    {{ _compliance_value(consent_by_subject, subjects, var("compliance_default_consent", "unknown")) }}
{%- endmacro %}

{#-
  Last day a record may be kept: event date + retention_days of the first policy found in the order
  (region, family), (region, 'default'), ('unassigned', family), ('unassigned', 'default').
  The policies are read once per query, into a map region -> days, like the lookups above.
-#}
{% macro compliance_retention_date(region_expr, table_family, event_date_expr) -%}
    {%- set days_by_region -%}
        (
            select jsonb_object_agg(first_policy.region, first_policy.retention_days)
            from (
                select distinct on (policy.region)
                    policy.region,
                    policy.retention_days
                from {{ ref('compliance_retention_policies') }} as policy
                where policy.table_family in ('{{ table_family }}', 'default') and policy.region is not null
                order by policy.region, (policy.table_family = '{{ table_family }}') desc
            ) as first_policy
        )
    {%- endset -%}
    cast({{ event_date_expr }} as date) + coalesce(
        cast({{ days_by_region }} ->> {{ region_expr }} as integer),
        cast({{ days_by_region }} ->> 'unassigned' as integer),
        {{ var("compliance_default_retention_days", 365) | int }}
    )
{%- endmacro %}

{#-
  Data residency: var `regions` (a region code or a list, e.g. --vars '{regions: [eu, uk]}'; unset = all)
  builds the facts and marts of those regions only. Staging keeps every row (so raw = staged + rejected still
  reconciles); the scope is applied where a record's region is known: Pipedrive deals and activities in the
  intermediate models every funnel table reads, field-service leads, bookings, jobs and lifecycle events in
  their models, call metrics by the region of their branch.
-#}
{% macro region_scope() -%}
    {%- set raw = var('regions', none) -%}
    {%- if raw is none or (raw | string | trim) in ('', '[]') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set codes = raw if (raw is iterable and raw is not string) else (raw | string).split(',') -%}
    {%- set scope = [] -%}
    {%- for code in codes -%}
        {%- set code = code | string | trim | lower -%}
        {%- if not modules.re.fullmatch('[a-z][a-z0-9_]{0,39}', code) -%}
            {{ _fail_var('regions', raw, "region codes of seeds/compliance/compliance_regions.csv, e.g. eu or [eu, uk]") }}
        {%- endif -%}
        {%- do scope.append(code) -%}
    {%- endfor -%}
    {{ return(scope) }}
{%- endmacro %}

{#- Predicate: the region expression is inside the run's region scope (always true without var regions). -#}
{% macro in_region_scope(region_expr) -%}
    {%- set scope = region_scope() -%}
    {%- if scope is none -%}
        true
    {%- else -%}
        {{ region_expr }} in ({% for code in scope %}'{{ code }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#-
  Predicate for a Pipedrive record: its deal's region (int_deal_regions_resolved) when the change log knows the
  deal, else the assignment of the deal or of the record's owner, as fct_activities resolves it. Semi-joins,
  not correlated lookups: cheap on large tables. A model using it declares
  `-- depends_on: {{ ref('int_deal_regions_resolved') }}` (the ref is only rendered with a scope).
-#}
{% macro pipedrive_in_region_scope(deal_expr, owner_expr) -%}
    {%- if region_scope() is none -%}
        true
    {%- else -%}
        {%- set resolved = ref('int_deal_regions_resolved') -%}
        (
            {{ deal_expr }} in (
                select resolved.deal_id from {{ resolved }} as resolved
                where {{ in_region_scope('resolved.region') }}
            )
            or (
                coalesce({{ deal_expr }} not in (select resolved.deal_id from {{ resolved }} as resolved), true)
                and {{ in_region_scope(compliance_region('pipedrive', [['deal', deal_expr], ['user', owner_expr]])) }}
            )
        )
    {%- endif -%}
{%- endmacro %}
