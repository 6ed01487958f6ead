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
