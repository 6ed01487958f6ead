{#- The lost-reason lookup unpacked from fields.field_value_options (field_key = 'lost_reason'). -#}
with

fields as (

    select
        field_id,
        field_value_options
    from {{ ref('stg_pipedrive__fields') }}
    where field_key = 'lost_reason'

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
        cast(btrim(option_value ->> 'id') as bigint) as lost_reason_id,
        btrim(option_value ->> 'label') as lost_reason_label
    from options

)

select
    lost_reason_id,
    field_id,
    lost_reason_label,
    option_position
from final
