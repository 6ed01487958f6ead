{#-
  Helpers of the field_service models (intermediate, marts, quality): the name resolution every fact repeats and
  the funnel arithmetic the KPI tables share. Each returns SQL text that reads the CTEs of the calling model.
-#}

{#-
  The left joins that resolve the raw spellings of `relation` (a CTE alias) to canonical keys: one join of CTE
  `variants` (int_field_service__name_variants) per dimension, aliased <dimension>_variants, on
  <relation>.<dimension> = raw_value. field_crm_resolved_key('<relation>.<dimension>', '<dimension>_variants')
  then reads the key.
-#}
{% macro field_service_variant_joins(relation, dimensions) -%}
    {%- for dimension in dimensions %}
    {%- if not loop.first %}
    {% endif -%}
    left join variants as {{ dimension }}_variants
        on
            {{ dimension }}_variants.dimension = '{{ dimension }}'
            and {{ relation }}.{{ dimension }} = {{ dimension }}_variants.raw_value
    {%- endfor %}
{%- endmacro %}

{#- A flow ratio or share: numerator / denominator rounded to 4 places, null when the denominator is 0. -#}
{% macro field_service_ratio(numerator, denominator) -%}
    round({{ numerator }}::numeric / nullif({{ denominator }}, 0), 4)::numeric(12, 4)
{%- endmacro %}

{#- The event counts of a lead funnel row (lead_funnel_daily, lead_funnel_monthly), in column order. -#}
{% macro lead_funnel_counts() -%}
    {{ return([
        'leads_count', 'quoted_count', 'booked_count', 'jobs_done_count', 'jobs_scheduled_count', 'lost_count',
        'bad_count',
    ]) }}
{%- endmacro %}

{#-
  The select of the `final` CTE of lead_funnel_daily and lead_funnel_monthly, in their contract's column order:
  the counts and values summed per `period_column` and key in CTE `relation`, typed, and the flow ratios
  recomputed from them (a month's ratio is never an average of its days' ratios).
-#}
{% macro lead_funnel_final(period_column, relation) -%}
    select
        {{ period_column }},
        lead_source_key,
        branch_key,
        sales_person_key,
        region,
        {%- for count in lead_funnel_counts() %}
        {{ count }}::integer as {{ count }},
        {%- endfor %}
        booked_value::numeric(16, 2) as booked_value,
        revenue::numeric(16, 2) as revenue,
        {{ field_service_ratio('booked_count', 'leads_count') }} as bookings_per_lead_flow_rate,
        {{ field_service_ratio('jobs_done_count', 'booked_count') }} as jobs_done_per_booking_flow_rate,
        {{ field_service_ratio('jobs_done_count', 'leads_count') }} as jobs_done_per_lead_flow_rate,
        data_retention_date
    from {{ relation }}
{%- endmacro %}
