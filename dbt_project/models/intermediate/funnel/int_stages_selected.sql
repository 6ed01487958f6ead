{#- The Pipedrive stages (stages.csv): the columns of stg_pipedrive__stages that the marts read, as staging
    types them (a thin view: macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_pipedrive__stages'), [
    'stage_id', 'stage_name',
]) }}
