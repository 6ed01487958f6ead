{#- A settings table (a one-row seed) holds exactly one row: fails with the row count otherwise. -#}
{% test exactly_one_row(model) %}

select rows_count
from (select count(*) as rows_count from {{ model }}) as counted
where rows_count <> 1

{% endtest %}
