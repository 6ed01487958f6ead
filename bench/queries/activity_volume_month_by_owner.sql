-- BI query 3: activity volume per owner for a month (total, completed, overdue per rep).
-- Placeholders filled by the benchmark (bench/measures_data.py) from the mart's columns as they are at run time:
-- relation = activity_volume_daily, date = its day column, owner = its owner column, measures = sum() of
-- its numeric columns; start / end = the month, half-open.
select
    {owner},
    {measures}
from {relation}
where {date} >= {start} and {date} < {end}
group by {owner}
order by {owner}
