{#-
  Generic test: the combination of `columns` is unique in the model (nulls compare equal).
  Usage:
    data_tests:
      - unique_combination:
          arguments:
            columns: [date_day, funnel_step]
-#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_count
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
