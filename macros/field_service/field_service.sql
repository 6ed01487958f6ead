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

{#-
  The members of a conformed dimension (dim_lead_sources, dim_sales_people, int_field_service__branch_regions):
  the rows of CTE `relation`, then the placeholder members 'unknown' (no name given) and 'unresolved' (a spelling
  that matched nothing), which the facts' keys fall back to. `name`: the label column (placeholders get a label);
  `columns`: the other attributes (null for placeholders).
-#}
{% macro field_service_members(relation, key, columns, name=none) -%}
    {%- set placeholders = [
        ('unknown', 'Unknown (not given)'), ('unresolved', 'Unresolved (no canonical match)')
    ] -%}
    select
        {{ key }},
        {%- if name is not none %}
        {{ name }},
        {%- endif %}
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        false as is_placeholder
    from {{ relation }}
    {%- for member, label in placeholders %}
    union all
    select
        '{{ member }}' as {{ key }},
        {%- if name is not none %}
        '{{ label }}' as {{ name }},
        {%- endif %}
        {%- for column in columns %}
        null as {{ column }},
        {%- endfor %}
        true as is_placeholder
    {%- endfor %}
{%- endmacro %}

{#-
  The spellings of a dimension: per canonical key (spellings that matched nothing under 'unresolved') the sorted
  raw values of CTE `variants` (int_field_service__name_variants of that dimension), as column raw_variants.
-#}
{% macro field_service_spellings(key) -%}
    select
        coalesce(canonical_key, 'unresolved') as {{ key }},
        array_agg(raw_value order by raw_value) as raw_variants
    from variants
    group by coalesce(canonical_key, 'unresolved')
{%- endmacro %}

{#-
  The whole select of dim_lead_sources and dim_sales_people, one conformed dimension over its seed: the seed's
  rows (`key`, `name`, `columns`) and the placeholder members (field_service_members), each with the spellings
  of `dimension` that resolve to it (raw_variants, an empty array when none; variants_count) and is_placeholder,
  in the contract's column order `key`, `output_columns`, raw_variants, variants_count, is_placeholder.
-#}
{% macro field_service_dimension(seed, dimension, key, name, columns, output_columns) -%}
with

seed_rows as (

    {{ selected_columns(seed, [key, name] + columns) }}

),

variants as (

    {{ selected_columns(
        ref('int_field_service__name_variants'),
        ['raw_value', 'canonical_key'],
        where="dimension = '" ~ dimension ~ "'",
    ) }}

),

members as (

    {{ field_service_members('seed_rows', key, columns, name=name) }}

),

spellings as (

    {{ field_service_spellings(key) }}

),

final as (

    select
        members.{{ key }},
        {%- for column in output_columns %}
        members.{{ column }},
        {%- endfor %}
        coalesce(spellings.raw_variants, '{}'::text[]) as raw_variants,
        coalesce(cardinality(spellings.raw_variants), 0) as variants_count,
        members.is_placeholder
    from members
    left join spellings
        on members.{{ key }} = spellings.{{ key }}

)

select * from final
{%- endmacro %}

{#- The compliance region assigned to each field_crm subject of a type (seeds/compliance; the least if several). -#}
{% macro field_service_region_assignments(subject_type) -%}
    select
        subject_id,
        min(region) as region
    from {{ ref('compliance_region_assignments') }}
    where source_system = 'field_crm' and subject_type = '{{ subject_type }}'
    group by subject_id
{%- endmacro %}

{#- The union all of the same `columns` (in that order) of every CTE in `relations`. -#}
{% macro field_service_union_all(relations, columns) -%}
    {%- for relation in relations %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    {{ selected_columns(relation, columns) }}
    {%- endfor %}
{%- endmacro %}

{#-
  Every spelling of a canonical key that the reference seeds give: per dimension the canonical names (seeds
  field_crm_sales_people, field_crm_branches, field_crm_lead_sources and, with `regions`, field_crm_regions'
  codes) and the aliases (seeds *_aliases), as dimension, kind ('canonical' / 'alias'), canonical_key, spelling
  and match_key (the folded name key; person names also match "Last, First"). int_field_service__name_variants
  matches the raw spellings on it; tests/field_crm/assert_field_crm_seed_keys_unambiguous checks it.
-#}
{% macro field_service_seed_names(regions=true) -%}
    {#- dimension, kind, seed, key column, name column, whether "Last, First" is reordered -#}
    {%- set seeds = [
        ('sales_person', 'canonical', 'field_crm_sales_people', 'sales_person_key', 'sales_person_name', true),
        ('sales_person', 'alias', 'sales_person_aliases', 'sales_person_key', 'alias', true),
        ('branch', 'canonical', 'field_crm_branches', 'branch_key', 'branch_name', false),
        ('branch', 'alias', 'branch_aliases', 'branch_key', 'alias', false),
        ('lead_source', 'canonical', 'field_crm_lead_sources', 'lead_source_key', 'lead_source_name', false),
        ('lead_source', 'alias', 'lead_source_aliases', 'lead_source_key', 'alias', false),
    ] + ([('region', 'canonical', 'field_crm_regions', 'region_code', 'region_code', false)] if regions else []) -%}
    {%- for dimension, kind, seed, key, name, reorder_comma in seeds %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        '{{ dimension }}' as dimension,
        '{{ kind }}' as kind,
        {{ key }} as canonical_key,
        {{ name }} as spelling,
        {{ field_crm_name_key(name, reorder_comma=reorder_comma) }} as match_key
    from {{ ref(seed) }}
    {%- endfor %}
{%- endmacro %}

{#-
  The raw spellings of the name dimensions in the field_crm base models (every row: staged, duplicate or
  rejected): per (dimension, raw value expression, tables) one select of each base_field_crm__<table>, as
  dimension, raw_value, name_key (<dimension>_name_key), source_table, _source_file. `where`: an optional
  condition per table (a keyed run reads the rows of new loads only).
-#}
{% macro field_service_raw_spellings(sources, where={}) -%}
    {%- for dimension, raw_value, tables in sources %}
    {%- set outer = loop %}
    {%- for table in tables %}
    {%- if not (outer.first and loop.first) %}
    union all
    {%- endif %}
    select
        '{{ dimension }}' as dimension,
        {{ raw_value }} as raw_value,
        {{ dimension }}_name_key as name_key,
        '{{ table }}' as source_table,
        _source_file
    from {{ ref('base_field_crm__' ~ table) }}
    {%- if where.get(table) %}
    where {{ where[table] }}
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
{%- endmacro %}

{#-
  The records of dim_customers' timeline: those with a customer, dated on or before the as-of date (macro
  as_of_date) or not dated at all.
-#}
{% macro field_service_customer_record_as_of(date_column) -%}
    customer_id is not null and ({{ date_column }} is null or {{ date_column }} <= {{ as_of_date() }})
{%- endmacro %}

{#-
  The lifecycle of a field_crm record (fct_lead_conversions.lifecycle_id): its quote, or 'lead:<lead id>' for a
  lead without one. The key of the keyed field-service models.
-#}
{% macro field_service_lifecycle(quote_expr, lead_expr) -%}
    coalesce({{ quote_expr }}, 'lead:' || {{ lead_expr }})
{%- endmacro %}

{#-
  Keyed feeds (macros/incremental_keys.sql): the lifecycles that new loads of these field_crm tables touch, every
  version of a key they add to included (a new version can move a lead to another quote: both lifecycles
  change). A bad flag belongs to its own quote and to its lead's lifecycle.
-#}
{% macro field_service_lifecycle_feeds(tables=['leads', 'bad_leads', 'lost_leads', 'booked_opportunities', 'jobs']) -%}
    {%- set lead_lifecycle = field_service_lifecycle('quote_number', 'lead_id') -%}
    {%- set feeds = [] -%}
    {%- for table in tables -%}
        {%- set base = 'base_field_crm__' ~ table -%}
        {%- set own = lead_lifecycle if table in ('leads', 'bad_leads') else 'quote_number' -%}
        {%- do feeds.append({
            'model': base, 'key': '_disposition_group', 'through': [[base, '_disposition_group', own]],
        }) -%}
        {%- if table == 'bad_leads' -%}
            {%- do feeds.append({
                'model': base, 'key': '_disposition_group',
                'through': [[base, '_disposition_group', 'lead_id'], ['stg_field_crm__leads', 'lead_id', lead_lifecycle]],
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(feeds) }}
{%- endmacro %}

{#-
  Predicate: a record of lifecycle (quote_expr, lead_expr) is one of the run's affected lifecycles (`true` in a
  full run). Written as two lookups (quote numbers, lead ids), not as the coalesce.
-#}
{% macro field_service_lifecycle_filter(quote_expr, lead_expr) -%}
    {%- if keyed_mode() == 'full' -%}
        true
    {%- elif keyed_run_keys() is none -%}
        false
    {%- else -%}
        (
            {{ quote_expr }} in (select run_keys.affected_key from {{ keyed_run_table() }} as run_keys)
            or ({{ quote_expr }} is null and {{ lead_expr }} in (
                select substr(run_keys.affected_key, 6)
                from {{ keyed_run_table() }} as run_keys
                where run_keys.affected_key like 'lead:%'
            ))
        )
    {%- endif -%}
{%- endmacro %}
