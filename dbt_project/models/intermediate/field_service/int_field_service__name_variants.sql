{#-
  Every raw spelling of a sales person, branch, lead source and region seen in any field_crm file (staged,
  duplicate or rejected rows alike) and the canonical key it resolves to:
    rule   its folded key equals the folded canonical name (seeds field_crm_sales_people, ...);
    alias  its folded key equals the folded key of an alias (seeds sales_person_aliases, ...);
    none   nothing matched: canonical_key is null and the spelling is listed in field_service_exceptions.
  Blank spellings are not variants (facts use the member 'unknown' for them).
-#}
{#- Keyed by spelling (macros/incremental_keys.sql): a run adds what the rows of new loads bring to the spellings
    they carry (occurrences, tables, first file: every raw row counts, whatever its disposition, so the held
    counts stay right), instead of re-reading all six base tables. -#}
{%- set sources = [
    ('sales_person', 'sales_person', ['leads', 'lost_leads', 'booked_opportunities', 'jobs', 'user_performance']),
    ('branch', 'branch', ['leads', 'lost_leads', 'booked_opportunities', 'jobs', 'user_performance']),
    ('lead_source', 'lead_source', ['leads', 'booked_opportunities']),
    ('region', "raw_values ->> 'region'", ['leads']),
] %}
{%- set feeds, new_rows = [], {} %}
{%- for dimension, raw_value, tables in sources %}
    {%- for table in tables %}
        {%- set spelling = "'" ~ dimension ~ "|' || (" ~ raw_value ~ ')' %}
        {%- do feeds.append({'model': 'base_field_crm__' ~ table, 'key': spelling}) %}
    {%- endfor %}
{%- endfor %}
{{ keyed_incremental(key="dimension || '|' || raw_value", source='field_crm', changes=feeds) }}
{#- the counts held so far (none in a full run) -#}
{%- set held_from = this if keyed_mode() == 'keys' else (
    '(select null::text as dimension, null::text as raw_value, null::text as name_key, 0::bigint as occurrences,'
    ~ ' null::text as seen_in, null::text as first_seen_file) as nothing'
) %}
{%- for table in ['leads', 'lost_leads', 'booked_opportunities', 'jobs', 'user_performance'] %}
    {%- do new_rows.update({table: keyed_new_rows('base_field_crm__' ~ table)}) %}
{%- endfor %}

with

spellings as (

    {{ field_service_raw_spellings(sources, where=new_rows) }}

),

new_spellings as (

    select
        dimension,
        raw_value,
        name_key,
        source_table,
        _source_file
    from spellings
    where btrim(raw_value) <> ''

),

held as (

    select
        dimension,
        raw_value,
        name_key,
        occurrences,
        seen_in,
        first_seen_file
    from {{ held_from }}
    where
        dimension || '|' || raw_value in (
            select new_spellings.dimension || '|' || new_spellings.raw_value from new_spellings
        )

),

counts as (

    select
        dimension,
        raw_value,
        name_key,
        count(*) as occurrences,
        min(_source_file) as first_seen_file
    from new_spellings
    group by dimension, raw_value, name_key
    union all
    select
        dimension,
        raw_value,
        name_key,
        occurrences,
        first_seen_file
    from held

),

tables_seen as (

    select
        dimension,
        raw_value,
        string_agg(distinct source_table, ', ' order by source_table) as seen_in
    from (
        select
            dimension,
            raw_value,
            source_table
        from new_spellings
        union
        select
            dimension,
            raw_value,
            unnest(string_to_array(seen_in, ', ')) as source_table
        from held
    ) as seen
    group by dimension, raw_value

),

variants as (

    select
        counts.dimension,
        counts.raw_value,
        counts.name_key,
        tables_seen.seen_in,
        sum(counts.occurrences) as occurrences,
        min(counts.first_seen_file) as first_seen_file
    from counts
    inner join tables_seen
        on
            counts.dimension = tables_seen.dimension
            and counts.raw_value = tables_seen.raw_value
    group by counts.dimension, counts.raw_value, counts.name_key, tables_seen.seen_in

),

seed_names as (

    {{ field_service_seed_names() }}

),

-- One key per folded name (tests/field_crm/assert_field_crm_seed_keys_unambiguous fails on a clash): a canonical
-- name before an alias, then the least key.
seed_keys as (

    select distinct on (dimension, match_key)
        dimension,
        match_key,
        canonical_key,
        kind
    from seed_names
    where canonical_key is not null
    order by dimension asc, match_key asc, kind = 'alias' asc, canonical_key asc

),

final as (

    select
        variants.dimension,
        variants.raw_value,
        variants.name_key,
        variants.occurrences,
        variants.seen_in,
        variants.first_seen_file,
        seed_keys.canonical_key,
        case seed_keys.kind
            when 'canonical' then 'rule'
            when 'alias' then 'alias'
            else 'none'
        end as match_method
    from variants
    left join seed_keys
        on
            variants.dimension = seed_keys.dimension
            and variants.name_key = seed_keys.match_key

)

select
    dimension,
    raw_value,
    name_key,
    canonical_key,
    match_method,
    occurrences,
    seen_in,
    first_seen_file
from final
