{#- The stage lookup unpacked from fields.field_value_options (field_key = 'stage_id'): one row per option. -#}
with

fields as (

    select
        field_id,
        field_value_options
    from {{ ref('stg_pipedrive__fields') }}
    where field_key = 'stage_id'

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
        field_id,
        cast(option_position as integer) as option_position,
        cast(btrim(option_value ->> 'id') as bigint) as stage_id,
        btrim(option_value ->> 'label') as stage_label
    from options

)

select
    stage_id,
    field_id,
    stage_label,
    option_position
from final
