{#-
  Every raw deal change, cleaned and typed as the source's YAML contract says (_pipedrive__sources.yml), with its
  disposition (staged, duplicate, or rejected with the reason); applied by typed_with_disposition
  (macros/staging). The seed pipedrive_change_keys says which field keys exist and what their new_value must be;
  the typed value of a change lands in the column of its key.
  Incremental by load: a run takes the loads it does not hold yet (macros/incremental_keys.sql).
-#}
{{ keyed_incremental(key='_disposition_group', source='pipedrive', by_load=true) }}
{%- set value_checks = [] -%}
{%- for value_type, check, kind in [
    ('bigint', crm_is_bigint('new_value'), 'an integer'),
    ('timestamp', crm_is_timestamp('new_value'), 'a valid timestamp'),
    ('numeric', crm_is_numeric('new_value'), 'a number'),
] -%}
    {%- do value_checks.append(["value_type = '" ~ value_type ~ "' and not " ~ check, 'new_value is not ' ~ kind]) -%}
{%- endfor -%}
{{ typed_with_disposition(
    source('pipedrive', 'deal_changes'),
    columns=[
        'deal_id', 'changed_field_key', 'new_value', 'stage_id', 'user_id', 'lost_reason_id', 'deal_value',
        'deal_status', 'added_at', 'changed_at',
    ],
    derived={
        'stage_id': ["changed_field_key = 'stage_id'", 'cast(new_value as bigint)'],
        'user_id': ["changed_field_key = 'user_id'", 'cast(new_value as bigint)'],
        'lost_reason_id': ["changed_field_key = 'lost_reason'", 'cast(new_value as bigint)'],
        'deal_value': ["changed_field_key = 'value'", 'cast(new_value as numeric)'],
        'deal_status': ["changed_field_key = 'status'", 'lower(new_value)'],
        'added_at': ["changed_field_key = 'add_time'", crm_cast_timestamptz('new_value')],
    },
    checks={
        'changed_field_key': [['value_type is null', 'changed_field_key is unknown']],
        'new_value': value_checks,
    },
    lookup={'relation': ref('pipedrive_change_keys'), 'key': 'changed_field_key', 'columns': ['value_type']},
) }}
