{#-
  Generic test: the model holds every combination of the distinct values of `columns` exactly once
  (e.g. a month x funnel step grid with zeros, not missing rows). Fails with the expected and actual row
  counts when rows are missing or repeated.

  Usage:
    data_tests:
      - complete_grid:
          arguments:
            columns: [month, funnel_step]
-#}
{% test complete_grid(model, columns) %}

with counts as (

    select
        count(*) as actual_rows,
        {% for column in columns -%}
        count(distinct {{ column }}){{ ' * ' if not loop.last }}
        {%- endfor %} as expected_rows
    from {{ model }}

),

final as (

    select
        actual_rows,
        expected_rows
    from counts
    where actual_rows <> expected_rows

)

select * from final

{% endtest %}
