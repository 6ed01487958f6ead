{#- Pipeline stages, typed; exact duplicates collapse (collapsed_exact_copies, macros/staging). -#}
{{ collapsed_exact_copies(ref('base_pipedrive__stages'), ['stage_id', 'stage_name']) }}
