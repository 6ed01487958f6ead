"""Dagster runs in-process against the embedded Postgres: raw landing through the raw job and the sensors,
one partition builds exactly its window, a 10-day backfill is one dbt invocation equal to a full refresh, a
backfill of an earlier range afterwards passes its checks and changes nothing, and the GX check of the BI
mart passes on a clean mart and fails (blocking) on a corrupted one.

Runs cover the models fed by the Pipedrive source (generated data: no network, deterministic); the
incremental ones are compared with a plain-dbt full refresh in schemas of their own (`ref_*`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    build_run_status_sensor_context,
    instance_for_test,
)
from dbt_helpers import differing_rows

from orchestration.core.manifest import is_windowed
from orchestration.dagster.partitions import range_tags
from orchestration.ingest.generators.pipedrive import generate_pipedrive

BEFORE = "2024-10-31"  # full refresh up to here first
ONE_DAY = "2024-11-05"  # then this partition alone
FIRST, LAST = "2024-11-01", "2024-11-10"  # then a 10-day backfill
MART = "rep_sales_funnel_monthly"


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


@pytest.fixture(scope="module")
def defs():
    from orchestration.dagster.definitions import defs

    return defs


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    from orchestration.dagster.assets import MANIFEST

    return MANIFEST


def _sources_of(manifest: dict[str, Any], unique_id: str) -> set[str]:
    out: set[str] = set()
    stack, seen = [unique_id], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.startswith("source."):
            out.add(manifest["sources"][node]["source_name"])
        stack.extend(manifest["parent_map"].get(node, []))
    return out


@pytest.fixture(scope="module")
def models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The windowed incremental models (the daily partitions) fed by Pipedrive only, by name."""
    found = {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and is_windowed(n) and _sources_of(manifest, n["unique_id"]) == {"pipedrive"}
    }
    if MART not in found:
        pytest.skip(f"no incremental {MART} in the dbt project yet")
    return found


def relation(node: dict[str, Any], prefix: str = "dev", suffix: str = "") -> str:
    custom = node["config"].get("schema")
    schema = f"{prefix}_{custom}" if custom else prefix
    return f'"{schema}"."{node["alias"] or node["name"]}{suffix}"'


@pytest.fixture(scope="module")
def landed(wh, defs, instance, models, tmp_path_factory, request):
    """Pipedrive files dropped in a landing folder and landed by `raw_pipedrive_job`; then plain dbt full
    refreshes (the incremental models and their upstream) up to LAST in `ref_*` and up to BEFORE in `dev_*`."""
    landing = tmp_path_factory.mktemp("landing")
    generate_pipedrive(landing / "pipedrive", deals=500, seed=11, end=date(2024, 11, 30), days=330)
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    mp.setenv("FUNNEL_LANDING_DIR", str(landing))
    result = defs.resolve_job_def("raw_pipedrive_job").execute_in_process(instance=instance)
    assert result.success
    names = " ".join(f"+{name}" for name in models)
    for schema, day in (("ref", LAST), ("dev", BEFORE)):
        wh.dbt(
            "build",
            "--full-refresh",
            "--select",
            names,
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            variables={"source_dt": day},
            schema=schema,
        )
    return result


def _materializations(result: Any) -> list[Any]:
    return [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION
    ]


def _run(defs: Any, instance: DagsterInstance, keys: list[AssetKey], **kwargs: Any) -> Any:
    result = defs.resolve_job_def("dbt_daily_job").execute_in_process(
        instance=instance, asset_selection=keys, raise_on_error=False, **kwargs
    )
    failures = [e.message for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert result.success, f"run failed: {failures}"
    return result


def _keys(models: dict[str, dict[str, Any]]) -> list[AssetKey]:
    from orchestration.dagster.assets import TRANSLATOR

    return [TRANSLATOR.get_asset_key(n) for n in models.values()]


def _date_column(wh: Any, node: dict[str, Any]) -> str:
    schema = f"dev_{node['config']['schema']}"
    return str(
        wh.scalar(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
            " and data_type = 'date' order by ordinal_position limit 1",
            (schema, node["alias"] or node["name"]),
        )
    )


def test_raw_landing_records_the_dates_it_touches(landed, instance, defs) -> None:
    by_key = {m.asset_key: m for m in _materializations(landed)}
    changes = by_key[AssetKey(["raw", "pipedrive", "deal_changes"])].metadata
    assert changes["new_rows"].value > 1000
    assert changes["touched_from"].value <= "2024-01-05" and changes["touched_to"].value >= "2024-11-30"
    assert by_key[AssetKey(["raw", "pipedrive", "stages"])].metadata["touches_all_dates"].value is True
    # The sensor that follows a landing asks for ONE dbt run over the dates the rows touch, downstream only.
    run = instance.get_run_by_id(landed.run_id)
    sensor = defs.get_repository_def().get_sensor_def("raw_landed_sensor")
    with build_run_status_sensor_context(
        sensor_name="raw_landed_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=landed.get_run_success_event(),
        repository_def=defs.get_repository_def(),
    ) as context:
        request = sensor(context)
    assert isinstance(request, RunRequest)
    assert request.partition_key_range is not None and request.partition_key_range.start == "2024-01-01"
    assert request.asset_selection is not None
    assert AssetKey(["marts", "funnel", MART]) in request.asset_selection
    assert not [k for k in request.asset_selection if k.path[0] == "raw"]


def test_one_partition_builds_exactly_its_window(landed, wh, defs, instance, models) -> None:
    daily = {name: node for name, node in models.items() if _date_column(wh, node) == "date_day"}
    assert daily, "no day-grain incremental model"
    for node in daily.values():
        wh.query(f"create table {relation(node, 'dev', '_before')} as select * from {relation(node, 'dev')}")
    result = _run(defs, instance, _keys(models), partition_key=ONE_DAY)
    assert {m.partition for m in _materializations(result)} == {ONE_DAY}
    for name, node in daily.items():
        table, before, ref = relation(node, "dev"), relation(node, "dev", "_before"), relation(node, "ref")
        days = {str(d) for (d,) in wh.query(f"select distinct date_day from {table} where date_day > %s", (BEFORE,))}
        assert days <= {ONE_DAY}, f"{name} has rows outside the partition: {sorted(days)}"
        unchanged = f"(select * from {table} where date_day <= '{BEFORE}') as kept"
        assert differing_rows(wh, unchanged, before) == 0, f"{name} changed before the day"
        assert differing_rows(wh, table, ref, f"date_day = '{ONE_DAY}'") == 0, f"{name} differs on the day"
        wh.query(f"drop table {before}")
    metadata = {m.asset_key.path[-1]: m.metadata for m in _materializations(result)}
    for name in models:
        assert {"rows_affected", "Execution Duration", "dagster/row_count"} <= set(metadata[name]), name


def test_the_same_partition_again_with_nothing_new_does_nothing(landed, defs, instance, models) -> None:
    """Nothing landed and no code changed since the last run of this partition: the dbt step does not run dbt
    (orchestration.core.build_state), and the run succeeds."""
    result = _run(defs, instance, _keys(models), partition_key=ONE_DAY)
    assert _materializations(result) == []
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("nothing to do: this step passed at") for m in logs)
    assert not [m for m in logs if m.startswith("Finished dbt command")]


def test_ten_day_backfill_is_one_dbt_invocation_equal_to_a_full_refresh(landed, wh, defs, instance, models) -> None:
    from orchestration.dagster.assets import DBT_ASSETS

    partitioned = next(d for d in DBT_ASSETS if d.partitions_def is not None)
    assert partitioned.backfill_policy is not None and partitioned.backfill_policy.max_partitions_per_run is None
    result = _run(defs, instance, _keys(models), tags=range_tags(FIRST, LAST))
    steps = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
    assert [s for s in steps if s.startswith("dbt_")] == ["dbt_incremental_models"]
    materialized = _materializations(result)
    assert len({m.metadata["invocation_id"].value for m in materialized}) == 1
    assert len({m.partition for m in materialized}) == 10
    assert len(materialized) == 10 * len(models)
    for name, node in models.items():
        dev, ref = relation(node, "dev"), relation(node, "ref")
        assert differing_rows(wh, dev, ref) == 0, name
        assert wh.scalar(f"select count(*) from {dev}") > 0, name


def test_backfill_of_an_earlier_range_passes_its_checks(landed, wh, defs, instance, models) -> None:
    """After the 10-day backfill, a backfill of days before its last ones (as launched from the UI for a past
    range): its blocking dbt tests (a month = the roll-up of all its days) pass, and every table still equals
    the full refresh at LAST, the latest day built."""
    _run(defs, instance, _keys(models), tags=range_tags("2024-11-02", "2024-11-06"))
    for name, node in models.items():
        dev, ref = relation(node, "dev"), relation(node, "ref")
        assert differing_rows(wh, dev, ref) == 0, name


def test_full_refresh_job_rebuilds_history_up_to_its_partition(landed, wh, defs, instance, models) -> None:
    """The manual full-refresh job, launched for one partition (the "as of" day), rebuilds all history to it."""
    for node in models.values():
        wh.query(f"delete from {relation(node, 'dev')}")  # nothing left for an incremental run to keep
    result = defs.resolve_job_def("dbt_full_refresh_job").execute_in_process(
        instance=instance, asset_selection=_keys(models), partition_key=LAST, raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    commands = [e.user_message for e in instance.all_logs(result.run_id) if "Running dbt command" in e.user_message]
    assert len(commands) == 1 and "--full-refresh" in commands[0], commands
    for name, node in models.items():
        dev, ref = relation(node, "dev"), relation(node, "ref")
        assert differing_rows(wh, dev, ref) == 0, name


def _gx_check(defs: Any, instance: DagsterInstance, tags: dict[str, str]) -> Any:
    """Run the mart's GX check alone (gx_checks_job restricted to it: other marts are not built here)."""
    key = AssetCheckKey(AssetKey(["marts", "funnel", MART]), f"gx_{MART}")
    job = defs.resolve_job_def("gx_checks_job").get_subset(asset_selection=set(), asset_check_selection={key})
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    (evaluation,) = [
        e.event_specific_data for e in result.all_events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    return evaluation


def test_gx_check_passes_on_the_clean_mart_and_fails_on_a_corrupted_one(landed, wh, defs, instance, models) -> None:
    tags = range_tags(FIRST, LAST)  # as if right after the backfill: freshness is judged as of LAST
    clean = _gx_check(defs, instance, tags)
    assert clean.passed, clean.metadata["failed_expectations"].value
    mart, backup = relation(models[MART], "dev"), relation(models[MART], "dev", "_backup")
    wh.query(f"create table {backup} as select * from {mart}")
    try:
        wh.query(f"delete from {mart} where month = '2024-06-01' and funnel_step = '2.1'")
        wh.query(f"update {mart} set deals_count = -7 where month = '2024-07-01' and funnel_step = '4'")
        broken = _gx_check(defs, instance, tags)
    finally:
        wh.query(f"truncate {mart}; insert into {mart} select * from {backup}; drop table {backup}")
    assert not broken.passed
    assert broken.severity == AssetCheckSeverity.ERROR
    table = broken.metadata["failed_expectations"].value
    assert "complete month x step grid" in table and "2024-06-01" in table
    assert "expect_column_values_to_be_between" in table and "-7" in table
    sample = broken.metadata["sample"].value
    assert sample["rows"]
    assert json.dumps(sample)  # shown as JSON in the UI
    assert (Path(str(broken.metadata["data_docs"].value))).exists()
    assert _gx_check(defs, instance, tags).passed
