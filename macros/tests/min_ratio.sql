{#-
  Generic test: sum(numerator) / sum(denominator) over the (optionally `where`-filtered) model is at least
  `min_ratio`. Returns one row (the failure) when the ratio is below it; no row when the denominator is 0.
  Use severity warn for business expectations.

  Usage (share of deals reaching Proposal that move on to Negotiation, warn below 50%):
    data_tests:
      - min_ratio:
          arguments:
            numerator: deals_converted_count
            denominator: previous_step_deals_count
            min_ratio: 0.5
          config:
            severity: warn
            where: "funnel_step = '5'"
-#}
{% test min_ratio(model, numerator, denominator, min_ratio=0.5) %}

with totals as (

    select
        sum({{ numerator }}) as numerator_total,
        sum({{ denominator }}) as denominator_total
    from {{ model }}

),

final as (

    select
        numerator_total,
        denominator_total,
        cast(numerator_total as numeric) / denominator_total as actual_ratio,
        {{ min_ratio }} as min_ratio
    from totals
    where
        denominator_total > 0
        and cast(numerator_total as numeric) / denominator_total < {{ min_ratio }}

)

select * from final

{% endtest %}
