-- BI query 2: a quarter of pipeline velocity by stage and region (a dashboard filtered on a date range).
-- Placeholders filled by the benchmark (bench/measures_data.py) from the mart's columns as they are at run time:
-- relation = pipeline_velocity_daily, date = its day column, stage / region = its stage and region
-- columns, measures = sum() (avg() for averages and rates) of its numeric columns; start / end = the
-- quarter, half-open.
select
    {stage},
    {region},
    {measures}
from {relation}
where {date} >= {start} and {date} < {end}
group by {stage}, {region}
order by {stage}, {region}
