"""Jobs and schedules.

Jobs (every dbt job carries the run tag `funnel/warehouse=dbt`, limited to one run at a time in dagster.yaml,
and its dbt steps use the pool `dbt_warehouse`, limited to one slot: a schedule and a backfill never interleave
their delete+insert on the same table):

- `dbt_daily_job`          all dbt assets; one partition (the daily schedule) or a range (a backfill, the
                           landing sensor): one dbt invocation either way
- `dbt_replay_35d_job`     the same assets; launched weekly over the last 35 days, its tests over all rows
                           (tag funnel/test_scope=all; a daily run tests the window it wrote)
- `dbt_full_refresh_job`   the same assets with `--full-refresh` (manual; its runs carry the tag
                           funnel/full_refresh=true). Launch it for one partition, the "as of" day (normally
                           yesterday): history is rebuilt up to that day, in one run. Any run tagged
                           funnel/full_refresh=true (e.g. a backfill launched from the asset graph) does the same.
- `raw_<source>_job`       land `$FUNNEL_HOME/landing/<source>/` into `raw_<source>` (launched by the sensor)
- `gx_checks_job`          the GX checks of the marts alone (no rebuild)

Schedules (business time zone FUNNEL_TIMEZONE; stopped until switched on in the UI, or FUNNEL_AUTOMATION=on):

- `dbt_daily_schedule`         01:00 every day, yesterday's partition
- `dbt_weekly_replay_schedule` 03:00 on Sundays, the 35 days up to yesterday (late data, restated history)
"""

import os
from collections.abc import Iterator
from datetime import datetime

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_from_partitioned_job,
    define_asset_job,
    schedule,
)

from orchestration.core.contracts import SOURCES
from orchestration.core.manifest import business_timezone, yesterday
from orchestration.dagster.assets import DBT_ASSETS, DBT_RUN_TAGS, FULL_REFRESH_TAG, RAW_ASSETS, TEST_SCOPE_TAG
from orchestration.dagster.checks import GX_CHECKS
from orchestration.dagster.partitions import daily_partitions, range_tags, trailing_range

REPLAY_DAYS = 35
PARTITIONED = any(d.partitions_def is not None for d in DBT_ASSETS)
# The dbt assets and every check their steps run, dbt source tests on the raw assets included: leaving those
# out would split a run's dbt step into subsets.
DBT_SELECTION = AssetSelection.assets(*DBT_ASSETS) | AssetSelection.checks(
    *[k for d in DBT_ASSETS for k in d.check_keys]
)


def automation_status() -> DefaultScheduleStatus:
    on = os.environ.get("FUNNEL_AUTOMATION", "").lower() in ("1", "on", "true", "yes")
    return DefaultScheduleStatus.RUNNING if on else DefaultScheduleStatus.STOPPED


def _dbt_job(
    name: str, description: str, full_refresh: bool = False, all_tests: bool = False
):  # -> UnresolvedAssetJobDefinition
    return define_asset_job(
        name,
        selection=DBT_SELECTION,
        partitions_def=daily_partitions() if PARTITIONED else None,
        tags={
            **DBT_RUN_TAGS,
            **({FULL_REFRESH_TAG: "true"} if full_refresh else {}),
            **({TEST_SCOPE_TAG: "all"} if all_tests else {}),
        },
        description=description,
    )


dbt_daily_job = _dbt_job(
    "dbt_daily_job", "dbt build of every model: the incremental ones over the run's partition (range) in one run."
)
dbt_replay_35d_job = _dbt_job(
    "dbt_replay_35d_job",
    f"dbt build re-running the last {REPLAY_DAYS} days of the incremental models (weekly), every test over all rows.",
    all_tests=True,
)
dbt_full_refresh_job = _dbt_job(
    "dbt_full_refresh_job",
    "dbt build --full-refresh of every model, up to the last day of the selected range (manual).",
    full_refresh=True,
)
RAW_JOBS = {
    source: define_asset_job(
        f"raw_{source}_job",
        selection=AssetSelection.assets(*[d for d in RAW_ASSETS if d.node_def.name == f"raw_{source}"]),
        description=f"Land $FUNNEL_HOME/landing/{source}/ into raw_{source} (the loader of `funnel load`).",
    )
    for source in SOURCES
}
gx_checks_job = define_asset_job(
    "gx_checks_job",
    selection=AssetSelection.checks(*GX_CHECKS),
    description="Run the Great Expectations checkpoints of the marts now, without rebuilding anything.",
)
JOBS = [
    dbt_daily_job,
    dbt_replay_35d_job,
    dbt_full_refresh_job,
    *RAW_JOBS.values(),
    *([gx_checks_job] if GX_CHECKS else []),
]


# Yesterday's partition at 01:00; without partitions (no incremental model enabled) a plain daily run.
dbt_daily_schedule = (
    build_schedule_from_partitioned_job(
        dbt_daily_job,
        name="dbt_daily_schedule",
        description="Every day at 01:00 (business time zone): yesterday's partition.",
        hour_of_day=1,
        minute_of_hour=0,
        default_status=automation_status(),
    )
    if PARTITIONED
    else ScheduleDefinition(
        name="dbt_daily_schedule",
        job=dbt_daily_job,
        cron_schedule="0 1 * * *",
        execution_timezone=business_timezone(),
        default_status=automation_status(),
    )
)


@schedule(
    name="dbt_weekly_replay_schedule",
    job=dbt_replay_35d_job,
    cron_schedule="0 3 * * 0",
    execution_timezone=business_timezone(),
    default_status=automation_status(),
    description=f"Sundays at 03:00 (business time zone): the last {REPLAY_DAYS} days in one run.",
)
def dbt_weekly_replay_schedule(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
    scheduled = context.scheduled_execution_time or datetime.now()
    last = yesterday(scheduled)
    keys = trailing_range(last, REPLAY_DAYS)
    yield RunRequest(
        run_key=f"replay-{keys.start}-{keys.end}",
        tags={**range_tags(keys.start, keys.end), "funnel/replay_days": str(REPLAY_DAYS)} if PARTITIONED else {},
    )


SCHEDULES = [dbt_daily_schedule, dbt_weekly_replay_schedule]
