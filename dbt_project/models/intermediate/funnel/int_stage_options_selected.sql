{#-
  The stage labels of the stage_id field's options (fields.csv):
  the columns of stg_pipedrive__stage_options that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

stage_options as (

    select
        stage_id,
        stage_label
    from {{ ref('stg_pipedrive__stage_options') }}

)

select * from stage_options
