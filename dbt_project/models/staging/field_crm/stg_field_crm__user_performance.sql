{#- Daily call metrics: one row per folded sales-person name and day, typed. -#}
with

user_performance as (

    select
        sales_person,
        sales_person_name_key,
        branch,
        branch_name_key,
        calls_made,
        calls_answered,
        talk_minutes,
        performance_date,
        _source_file,
        _source_line,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__user_performance') }}
    where row_disposition = 'staged'

)

select * from user_performance
