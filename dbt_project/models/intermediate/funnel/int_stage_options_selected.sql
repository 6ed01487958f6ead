{#- The stage labels of the stage_id field's options (fields.csv): the columns of stg_pipedrive__stage_options
    that the marts read, as staging types them (a thin view: macros/selected_columns.sql says why). -#}
{{ selected_columns(ref('stg_pipedrive__stage_options'), [
    'stage_id', 'stage_label',
]) }}
