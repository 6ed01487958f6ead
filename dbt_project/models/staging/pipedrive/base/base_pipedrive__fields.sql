{#-
  Every raw deal field definition, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml),
  with its disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging).
  field_value_options, when given, must be a JSON array of options, each an object with an integer id and a label.
-#}
{{ typed_with_disposition(
    source('pipedrive', 'fields'),
    checks={'field_value_options': [
        [
            "jsonb_typeof(cast(field_value_options as jsonb)) <> 'array'",
            'field_value_options is not a JSON array',
        ],
        [
            "exists (
                select 1
                from jsonb_array_elements(cast(cleaned.field_value_options as jsonb)) as opt (option_value)
                where
                    jsonb_typeof(opt.option_value) <> 'object'
                    or not " ~ crm_is_bigint("btrim(opt.option_value ->> 'id')") ~ "
                    or nullif(btrim(opt.option_value ->> 'label'), '') is null
            )",
            'field_value_options has an option without an integer id and a label',
        ],
    ]},
) }}
