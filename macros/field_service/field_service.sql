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
