{#-
  Raw rows of every field_crm table that could not be staged, with the reason: a required value missing, a value
  that does not parse (date, number, consent), or a row superseded by a later version of the same key.
  Exact duplicates are not rejects (they are collapsed; see stg_field_crm__file_reconciliation). An unreadable
  money amount is not a reject either: the row is staged with an empty amount (field_service_exceptions).
-#}
with

rejected as (

    select
        'leads' as source_table,
        _source_file,
        _source_line,
        disposition_reason as reject_reason,
        raw_values,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__leads') }}
    where row_disposition = 'rejected'
    union all
    select
        'bad_leads' as source_table,
        _source_file,
        _source_line,
        disposition_reason as reject_reason,
        raw_values,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__bad_leads') }}
    where row_disposition = 'rejected'
    union all
    select
        'lost_leads' as source_table,
        _source_file,
        _source_line,
        disposition_reason as reject_reason,
        raw_values,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__lost_leads') }}
    where row_disposition = 'rejected'
    union all
    select
        'booked_opportunities' as source_table,
        _source_file,
        _source_line,
        disposition_reason as reject_reason,
        raw_values,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__booked_opportunities') }}
    where row_disposition = 'rejected'
    union all
    select
        'jobs' as source_table,
        _source_file,
        _source_line,
        disposition_reason as reject_reason,
        raw_values,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__jobs') }}
    where row_disposition = 'rejected'
    union all
    select
        'user_performance' as source_table,
        _source_file,
        _source_line,
        disposition_reason as reject_reason,
        raw_values,
        _load_id,
        _loaded_at
    from {{ ref('base_field_crm__user_performance') }}
    where row_disposition = 'rejected'

)

select * from rejected
