{#-
  Generic test: the column is a key - never null and never repeated - checked in one grouping of the model (dbt's
  `unique` and `not_null` would be two tests, two scans and two dbt nodes per key). A failing row is a key value
  (null for the null key) and how many rows carry it.
  Usage (column level):
    data_tests: [unique_not_null]
  Contracted marts declare a primary_key constraint instead: PostgreSQL refuses the duplicate or null on insert.
-#}
{% test unique_not_null(model, column_name) %}

select
    {{ column_name }} as key_value,
    count(*) as rows_count
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1

{% endtest %}
