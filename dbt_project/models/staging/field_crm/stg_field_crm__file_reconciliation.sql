{#-
  One row per raw file of every field_crm table: raw rows (counted on the raw table itself) = staged rows +
  collapsed exact duplicates + rejected rows. is_reconciled is tested to be true.
-#}
with

raw_rows as (

    select
        'leads' as source_table,
        _source_file,
        count(*) as raw_rows
    from {{ source('field_crm', 'leads') }}
    group by _source_file
    union all
    select
        'bad_leads' as source_table,
        _source_file,
        count(*) as raw_rows
    from {{ source('field_crm', 'bad_leads') }}
    group by _source_file
    union all
    select
        'lost_leads' as source_table,
        _source_file,
        count(*) as raw_rows
    from {{ source('field_crm', 'lost_leads') }}
    group by _source_file
    union all
    select
        'booked_opportunities' as source_table,
        _source_file,
        count(*) as raw_rows
    from {{ source('field_crm', 'booked_opportunities') }}
    group by _source_file
    union all
    select
        'jobs' as source_table,
        _source_file,
        count(*) as raw_rows
    from {{ source('field_crm', 'jobs') }}
    group by _source_file
    union all
    select
        'user_performance' as source_table,
        _source_file,
        count(*) as raw_rows
    from {{ source('field_crm', 'user_performance') }}
    group by _source_file

),

dispositions as (

    select
        'leads' as source_table,
        _source_file,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_field_crm__leads') }}
    group by _source_file
    union all
    select
        'bad_leads' as source_table,
        _source_file,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_field_crm__bad_leads') }}
    group by _source_file
    union all
    select
        'lost_leads' as source_table,
        _source_file,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_field_crm__lost_leads') }}
    group by _source_file
    union all
    select
        'booked_opportunities' as source_table,
        _source_file,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_field_crm__booked_opportunities') }}
    group by _source_file
    union all
    select
        'jobs' as source_table,
        _source_file,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_field_crm__jobs') }}
    group by _source_file
    union all
    select
        'user_performance' as source_table,
        _source_file,
        count(*) filter (where row_disposition = 'staged') as staged_rows,
        count(*) filter (where row_disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where row_disposition = 'rejected') as rejected_rows
    from {{ ref('base_field_crm__user_performance') }}
    group by _source_file

),

final as (

    select
        raw_rows.source_table,
        raw_rows._source_file,
        raw_rows.raw_rows,
        coalesce(dispositions.staged_rows, 0) as staged_rows,
        coalesce(dispositions.duplicate_rows, 0) as duplicate_rows,
        coalesce(dispositions.rejected_rows, 0) as rejected_rows,
        raw_rows.raw_rows
        = coalesce(dispositions.staged_rows, 0)
        + coalesce(dispositions.duplicate_rows, 0)
        + coalesce(dispositions.rejected_rows, 0) as is_reconciled
    from raw_rows
    left join dispositions
        on
            raw_rows.source_table = dispositions.source_table
            and raw_rows._source_file = dispositions._source_file

)

select * from final
