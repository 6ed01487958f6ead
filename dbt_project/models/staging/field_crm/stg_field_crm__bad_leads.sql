{#- Bad-lead flags: one row per flagged lead_id, typed. -#}
with

bad_leads as (

    select
        lead_id,
        quote_number,
        bad_reason,
        flagged_at,
        flagged_date,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__bad_leads') }}
    where row_disposition = 'staged'

)

select * from bad_leads
