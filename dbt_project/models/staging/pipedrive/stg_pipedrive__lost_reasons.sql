{#- The lost-reason lookup unpacked from fields.field_value_options (field_key = 'lost_reason'). -#}
{{ pipedrive_field_options(ref('stg_pipedrive__fields'), 'lost_reason', 'lost_reason') }}
