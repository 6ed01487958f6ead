-- BI query 1: a month of the funnel by step (the funnel chart of a dashboard, one month picked).
-- Columns are the mart's contract: rep_sales_funnel_monthly(month, kpi_name, funnel_step, deals_count).
-- Placeholders filled by the benchmark (bench/measures_data.py): relation = the mart, start = the month (a date literal).
select
    funnel_step,
    kpi_name,
    deals_count
from {relation}
where month = {start}
order by funnel_step
