{#-
  One lookup unpacked from the option list of a Pipedrive deal field (fields.field_value_options, a JSON array of
  {id, label} that base_pipedrive__fields validated): one row per option of the field `field_key`, as
  `<name>_id, field_id, <name>_label, option_position`.
-#}
{% macro pipedrive_field_options(fields, field_key, name) -%}
with

fields as (

    select
        field_id,
        field_value_options
    from {{ fields }}
    where field_key = '{{ field_key }}'

),

options as (

    select
        fields.field_id,
        opt.option_value,
        opt.option_position
    from fields
    cross join
        lateral jsonb_array_elements(fields.field_value_options)
        with ordinality as opt (option_value, option_position)

),

final as (

    select
        cast(btrim(option_value ->> 'id') as bigint) as {{ name }}_id,
        field_id,
        btrim(option_value ->> 'label') as {{ name }}_label,
        cast(option_position as integer) as option_position
    from options

)

select * from final
{%- endmacro %}
