"""Daily partitions of the incremental dbt models, and the pure mapping from a partition window to dbt vars.

A partition is one business day. A run over a range of days (one day, a backfill, the weekly 35-day replay)
is ONE dbt invocation whose window is exactly that range: the incremental macros replace
[source_dt - backfill_period, source_dt] inclusive, so for days [first, last]:

    source_dt = last, backfill_period = (last - first).days

Windows are half-open in Dagster ([start, end) datetimes in the business time zone); `window_vars` turns
them into those inclusive dates. Environment:

    FUNNEL_PARTITIONS_START  first partition, YYYY-MM-DD (default 2024-01-01)
    FUNNEL_TIMEZONE          business time zone, IANA (default UTC); partitions, schedules and the dbt
                             var `business_timezone` all use it
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from dagster import DailyPartitionsDefinition, PartitionKeyRange

from orchestration.core.dbt import dbt_vars, parse_source_dt
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import business_timezone

DEFAULT_START = "2024-01-01"
# Run tags Dagster uses for a run over a range of partitions (single-run backfills).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def partitions_start() -> date:
    return parse_source_dt(os.environ.get("FUNNEL_PARTITIONS_START", DEFAULT_START), "FUNNEL_PARTITIONS_START")


def daily_partitions() -> DailyPartitionsDefinition:
    """One partition per business day from FUNNEL_PARTITIONS_START up to yesterday (today is not complete)."""
    return DailyPartitionsDefinition(start_date=partitions_start().isoformat(), timezone=business_timezone())


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_source_dt(value, "partition key")


def window_vars(
    start: date | datetime | str, end: date | datetime | str, timezone: str | None = None
) -> dict[str, object]:
    """dbt vars for the half-open window [start, end) of whole days. Pure: no clock, no database.

    >>> window_vars("2024-03-01", "2024-03-11", "UTC")
    {'source_dt': '2024-03-10', 'backfill_period': 9, 'business_timezone': 'UTC'}
    """
    first, stop = _as_date(start), _as_date(end)
    if stop <= first:
        raise FunnelError(f"empty partition window [{first}, {stop})", "a window covers at least one day")
    midnight = datetime.min.time()
    for bound in (start, end):
        if isinstance(bound, datetime) and bound.time() != midnight:
            raise FunnelError(f"window [{start}, {end}) does not start and end at midnight", "use daily partitions")
    last = stop - timedelta(days=1)
    return dbt_vars(source_dt=last, backfill_period=(last - first).days, timezone=timezone)


def key_range_vars(first_key: str, last_key: str, timezone: str | None = None) -> dict[str, object]:
    """dbt vars for the inclusive range of daily partition keys [first_key, last_key]."""
    return window_vars(_as_date(first_key), _as_date(last_key) + timedelta(days=1), timezone)


def run_partition_range(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The (first, last) partition keys a run targets, from its tags; None for an unpartitioned run."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    return None


def range_tags(first: date | str, last: date | str) -> dict[str, str]:
    """Run tags that make one run cover partitions [first, last] (what a single-run backfill sets)."""
    return {RANGE_START_TAG: _as_date(first).isoformat(), RANGE_END_TAG: _as_date(last).isoformat()}


def trailing_range(last: date, days: int) -> PartitionKeyRange:
    """The `days` partitions ending with `last`, clamped to the first partition."""
    first = max(last - timedelta(days=days - 1), partitions_start())
    return PartitionKeyRange(first.isoformat(), last.isoformat())


def clamp_range(first: date, last: date, newest: date) -> PartitionKeyRange | None:
    """Partitions covering days [first, last], clamped to [first partition, newest]; None if none remain."""
    lo, hi = max(first, partitions_start()), min(last, newest)
    return PartitionKeyRange(lo.isoformat(), hi.isoformat()) if lo <= hi else None
