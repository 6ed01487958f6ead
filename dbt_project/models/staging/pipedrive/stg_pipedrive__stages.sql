{#- Pipeline stages, typed: the staged rows of base_pipedrive__stages (one per set of exact copies). -#}
{{ staged_rows(ref('base_pipedrive__stages'), ['stage_id', 'stage_name', 'source_rows_count']) }}
