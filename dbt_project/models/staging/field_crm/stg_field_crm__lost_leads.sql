{#- Lost quotes: one row per quote_number, typed; names folded to keys (resolved in intermediate). -#}
with

lost_leads as (

    select
        quote_number,
        lost_reason,
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        lost_at,
        lost_date,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__lost_leads') }}
    where row_disposition = 'staged'

)

select * from lost_leads
