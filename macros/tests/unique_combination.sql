{#-
  Generic test: the combination of `columns` is unique in the model (nulls compare equal), and, in the same grouping,
  none of `not_null` is null: a table's grain and its required columns in one query instead of one per rule. A
  failing row is a combination with how many rows carry it and which of the `not_null` columns are null in them.
  Usage:
    data_tests:
      - unique_combination:
          arguments:
            columns: [date_day, funnel_step]
            not_null: [date_day, funnel_step, deals_count]
-#}
{% test unique_combination(model, columns, not_null=[]) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_count
    {%- if not_null %},
    concat_ws(
        ', '
        {%- for name in not_null %},
        case when bool_or({{ name }} is null) then '{{ name }}' end
        {%- endfor %}
    ) as null_columns
    {%- endif %}
from {{ model }}
group by {{ columns | join(', ') }}
having
    count(*) > 1
    {%- for name in not_null %}
    or bool_or({{ name }} is null)
    {%- endfor %}

{% endtest %}
