{#-
  Generic test: none of `column_names` is null, checked in one scan of the model (one not_null test per column
  would read the table once per column). Each failing row says which of the columns are null.
  Usage (model level; the key has its own unique_not_null test; a model with a unique_combination test names its
  required columns there, in its `not_null` argument):
    data_tests:
      - not_null_columns:
          arguments:
            column_names: [deal_id, changed_at]
  Contracted models declare `constraints: [{type: not_null}]` instead: PostgreSQL refuses the null on insert.
-#}
{% test not_null_columns(model, column_names) %}

select
    concat_ws(
        ', '
        {%- for name in column_names %},
        case when {{ name }} is null then '{{ name }}' end
        {%- endfor %}
    ) as null_columns
from {{ model }}
where
    {%- for name in column_names %}
    {{ name }} is null{{ ' or' if not loop.last }}
    {%- endfor %}

{% endtest %}
