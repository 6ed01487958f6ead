{#- The stage lookup unpacked from fields.field_value_options (field_key = 'stage_id'): one row per option. -#}
{{ pipedrive_field_options(ref('stg_pipedrive__fields'), 'stage_id', 'stage') }}
