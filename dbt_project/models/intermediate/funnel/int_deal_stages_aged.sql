{#-
  The open stage entries (not left, deal not lost) with their current age: days from entering the stage to the
  end of the as-of date (source_dt, or the later day of the latest build), in the business time zone. A view:
  an age changes every day for every open deal, so it is computed when read, over the keyed timeline.
-#}
with

stage_entries as (

    select
        deal_stage_entry_id,
        deal_id,
        deal_episode,
        stage_id,
        owner_user_id,
        entered_at
    from {{ ref('int_deal_stages_sequenced') }}
    where is_open

),

final as (

    select
        deal_stage_entry_id,
        deal_id,
        deal_episode,
        stage_id,
        owner_user_id,
        {{ crm_days_between('entered_at', business_day_end(as_of_date())) }} as current_age_in_stage_days,
        entered_at
    from stage_entries

)

select * from final
