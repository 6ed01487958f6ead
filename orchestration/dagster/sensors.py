"""Sensors: new files in the landing folders are loaded, then the dbt partitions they touch are rebuilt.

- `landing_sensor` watches `$FUNNEL_HOME/landing/<source>/` (contract files: `<table>.csv` and
  `<table>__<suffix>.csv` drops). A new file, or one whose size or modification time changed, launches
  `raw_<source>_job` (a changed file supersedes its earlier load: `replace: true`).
- `raw_landed_sensor` follows every successful run that materialised raw assets: the loader recorded the
  event dates of the rows it landed (`touched_from` / `touched_to`; lookups such as stages or users touch
  all dates), so it launches ONE `dbt_daily_job` run over exactly that range of partitions, for the dbt
  assets downstream of those raw tables.

Both are stopped until switched on in the UI (Automation), or FUNNEL_AUTOMATION=on; FUNNEL_LANDING_DIR moves
the landing folder.
"""

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import date

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_status_sensor,
    sensor,
)

from orchestration.core.contracts import SOURCES, source_tables
from orchestration.core.manifest import yesterday
from orchestration.dagster.assets import DBT_ASSETS, RAW_ASSETS, landing_dir
from orchestration.dagster.partitions import clamp_range, partitions_start, range_tags
from orchestration.dagster.schedules import PARTITIONED, RAW_JOBS, dbt_daily_job


def sensor_status() -> DefaultSensorStatus:
    on = os.environ.get("FUNNEL_AUTOMATION", "").lower() in ("1", "on", "true", "yes")
    return DefaultSensorStatus.RUNNING if on else DefaultSensorStatus.STOPPED


def landing_fingerprint(source: str) -> dict[str, list[int]]:
    """{file name: [size, mtime_ns]} of the contract files waiting in the source's landing folder."""
    from orchestration.ingest.loader import files_for

    directory = landing_dir(source)
    if not directory.is_dir():
        return {}
    out: dict[str, list[int]] = {}
    for table in source_tables(source):
        for path in files_for(directory, table):
            stat = path.stat()
            out[path.name] = [stat.st_size, stat.st_mtime_ns]
    return out


@sensor(
    name="landing_sensor",
    jobs=list(RAW_JOBS.values()),
    minimum_interval_seconds=30,
    default_status=sensor_status(),
    description="Loads new or changed CSV files in $FUNNEL_HOME/landing/<source>/ into raw_<source>.",
)
def landing_sensor(context: SensorEvaluationContext) -> Iterator[RunRequest | SkipReason]:
    seen: dict[str, dict[str, list[int]]] = json.loads(context.cursor) if context.cursor else {}
    requested = False
    for source in SOURCES:
        now = landing_fingerprint(source)
        before = seen.get(source, {})
        new = sorted(name for name in now if name not in before)
        changed = sorted(name for name in now if name in before and before[name] != now[name])
        if new or changed:
            digest = hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16]
            requested = True
            yield RunRequest(
                run_key=f"{source}-{digest}",
                job_name=RAW_JOBS[source].name,
                run_config={"ops": {f"raw_{source}": {"config": {"replace": bool(changed)}}}},
                tags={"funnel/landing_new": ",".join(new)[:200], "funnel/landing_changed": ",".join(changed)[:200]},
            )
        seen[source] = now
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if not requested:
        yield SkipReason(f"no new or changed files under {landing_dir('<source>').parent}")


RAW_KEYS = {key for d in RAW_ASSETS for key in d.keys}
DBT_KEYS = {key for d in DBT_ASSETS for key in d.keys}


def touched_range(metadata: list[dict[str, object]], newest: date) -> tuple[str, str] | None:
    """The partitions the landed rows touch: the union of their dates, or all of them for a lookup."""
    landed = [m for m in metadata if int(str(m.get("new_rows", 0))) > 0]
    if not landed:
        return None
    if any(str(m.get("touches_all_dates")).lower() == "true" for m in landed):
        first, last = partitions_start(), newest
    else:
        dated = [m for m in landed if m.get("touched_from")]
        if not dated:
            return None
        first = min(date.fromisoformat(str(m["touched_from"])) for m in dated)
        last = max(date.fromisoformat(str(m["touched_to"])) for m in dated)
    keys = clamp_range(first, last, newest)
    return (keys.start, keys.end) if keys else None


def _raw_materializations(context: RunStatusSensorContext) -> dict[AssetKey, dict[str, object]]:
    records = context.instance.get_records_for_run(
        context.dagster_run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    out: dict[AssetKey, dict[str, object]] = {}
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization and materialization.asset_key in RAW_KEYS:
            out[materialization.asset_key] = {k: v.value for k, v in materialization.metadata.items()}
    return out


@run_status_sensor(
    name="raw_landed_sensor",
    run_status=DagsterRunStatus.SUCCESS,
    request_job=dbt_daily_job,
    default_status=sensor_status(),
    description="After raw data lands: one dbt run over the partitions the new rows touch, downstream only.",
)
def raw_landed_sensor(context: RunStatusSensorContext) -> RunRequest | SkipReason:
    landed = _raw_materializations(context)
    if not landed:
        return SkipReason("the run materialised no raw assets")
    downstream = (AssetSelection.assets(*landed).downstream() - AssetSelection.assets(*RAW_KEYS)).resolve(
        [*RAW_ASSETS, *DBT_ASSETS]
    )
    selection = sorted((k for k in downstream if k in DBT_KEYS), key=lambda k: k.to_user_string())
    if not selection:
        return SkipReason("no dbt assets downstream of the landed tables")
    tags = {"funnel/landed_by": context.dagster_run.run_id}
    if PARTITIONED:
        span = touched_range(list(landed.values()), yesterday())
        if span is None:
            return SkipReason("the landed rows add nothing inside the partitions (no new rows, or only future dates)")
        tags.update(range_tags(*span))
    return RunRequest(run_key=f"landed-{context.dagster_run.run_id}", asset_selection=selection, tags=tags)


SENSORS = [landing_sensor, raw_landed_sensor]
