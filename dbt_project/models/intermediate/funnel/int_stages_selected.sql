{#-
  The Pipedrive stages (stages.csv):
  the columns of stg_pipedrive__stages that the marts read, as staging types them.
  A thin view: marts read intermediate, never staging, so a rewrite of staging has to keep these columns
  and nothing else.
-#}
with

stages as (

    select
        stage_id,
        stage_name
    from {{ ref('stg_pipedrive__stages') }}

)

select * from stages
