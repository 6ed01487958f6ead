{#-
  MetricFlow's time spine at day grain, and a calendar BI tools can join: one row per day from 2015-01-01
  to 2035-12-31 (covers every export this product has seen with years to spare; 7,671 rows).
-#}
select cast(day_start as date) as date_day
from generate_series(
    cast('2015-01-01' as timestamp),
    cast('2035-12-31' as timestamp),
    interval '1 day'
) as calendar_days (day_start)
