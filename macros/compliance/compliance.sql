{#-
  Region, GDPR consent and data retention for any source system, from the seeds in seeds/compliance/.
  Source-agnostic: a model names its source system and the subjects to look up, in order of precedence, as
  [subject_type, sql expression of the subject's id] pairs, e.g. [['deal', 'deal_id'], ['user', 'owner_id']].

  Safe defaults when nothing matches (vars, documented in docs/funnel.md):
    compliance_default_region          'unassigned'
    compliance_default_consent         'unknown'
    compliance_default_retention_days  365 (the shortest period, used when no policy matches at all)

  Each macro is a scalar SQL expression (correlated lookups on the small seeds), usable in any select list.
-#}

{#- Region of the first subject with an assignment to a region listed in compliance_regions. -#}
{% macro compliance_region(source_system, subjects) -%}
    coalesce(
        {%- for subject_type, subject_expr in subjects %}
        (
            select assignment.region
            from {{ ref('compliance_region_assignments') }} as assignment
            inner join {{ ref('compliance_regions') }} as known_region
                on assignment.region = known_region.region
            where
                assignment.source_system = '{{ source_system }}'
                and assignment.subject_type = '{{ subject_type }}'
                and assignment.subject_id = cast({{ subject_expr }} as text)
            order by assignment.region
            limit 1
        ),
        {%- endfor %}
        '{{ var("compliance_default_region", "unassigned") }}'
    )
{%- endmacro %}

{% macro compliance_consent(source_system, subjects) -%}
    coalesce(
        {%- for subject_type, subject_expr in subjects %}
        (
            select consent.gdpr_consent
            from {{ ref('compliance_consents') }} as consent
            where
                consent.source_system = '{{ source_system }}'
                and consent.subject_type = '{{ subject_type }}'
                and consent.subject_id = cast({{ subject_expr }} as text)
            order by consent.recorded_at desc nulls last, consent.gdpr_consent
            limit 1
        ),
        {%- endfor %}
        '{{ var("compliance_default_consent", "unknown") }}'
    )
{%- endmacro %}

{#-
  Last day a record may be kept: event date + retention_days of the first policy found in the order
  (region, family), (region, 'default'), ('unassigned', family), ('unassigned', 'default').
-#}
{% macro compliance_retention_date(region_expr, table_family, event_date_expr) -%}
    cast({{ event_date_expr }} as date) + coalesce(
        (
            select policy.retention_days
            from {{ ref('compliance_retention_policies') }} as policy
            where
                policy.region in ({{ region_expr }}, 'unassigned')
                and policy.table_family in ('{{ table_family }}', 'default')
            order by
                (policy.region = {{ region_expr }}) desc,
                (policy.table_family = '{{ table_family }}') desc
            limit 1
        ),
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
