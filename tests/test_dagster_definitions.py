"""The Dagster definitions, without a warehouse: what loads, its names, partitions, schedules, sensors, checks,
and the pure partition window -> dbt vars mapping."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from dagster import (
    AssetKey,
    BackfillPolicy,
    DailyPartitionsDefinition,
    RunRequest,
    SkipReason,
    TimeWindow,
    build_schedule_context,
    build_sensor_context,
)

from orchestration.core.errors import FunnelError
from orchestration.core.manifest import is_windowed
from orchestration.core.settings import REPO_ROOT
from orchestration.dagster.partitions import clamp_range, key_range_vars, run_partition_range, window_vars

STEPS = {"1", "2", "2.1", "3", "3.1", "4", "5", "6", "7", "8", "9"}


@pytest.fixture(scope="module")
def defs():
    from orchestration.dagster.definitions import defs

    return defs


@pytest.fixture(scope="module")
def repo(defs):
    return defs.get_repository_def()


@pytest.fixture(scope="module")
def manifest() -> dict:
    from orchestration.dagster.assets import MANIFEST_PATH

    return json.loads(MANIFEST_PATH.read_text())


def _nodes(manifest: dict, kind: str) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == kind]


# ------------------------------------------------------------------------- partition window -> dbt vars


def test_one_day_window_is_source_dt_with_no_backfill() -> None:
    assert window_vars("2024-03-10", "2024-03-11", "UTC") == {
        "source_dt": "2024-03-10",
        "backfill_period": 0,
        "business_timezone": "UTC",
    }


def test_a_range_of_days_is_one_window_ending_at_its_last_day() -> None:
    assert window_vars(date(2024, 2, 20), date(2024, 3, 1)) == {"source_dt": "2024-02-29", "backfill_period": 9}
    assert key_range_vars("2024-11-01", "2024-11-10")["backfill_period"] == 9
    assert key_range_vars("2024-11-01", "2024-11-10")["source_dt"] == "2024-11-10"
    assert key_range_vars("2024-01-01", "2024-12-31")["backfill_period"] == 365  # leap year: 366 days


def test_window_from_a_dagster_time_window_in_a_dst_zone() -> None:
    tz = ZoneInfo("Europe/Berlin")
    partitions = DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin")
    window = partitions.time_window_for_partition_key("2024-03-31")  # 23-hour day
    assert window_vars(window.start, window.end, "Europe/Berlin") == {
        "source_dt": "2024-03-31",
        "backfill_period": 0,
        "business_timezone": "Europe/Berlin",
    }
    span = TimeWindow(datetime(2024, 3, 25, tzinfo=tz), datetime(2024, 4, 4, tzinfo=tz))
    assert window_vars(span.start, span.end)["backfill_period"] == 9


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-03-10", "2024-03-10"), ("2024-03-11", "2024-03-10"), (datetime(2024, 3, 1, 6), datetime(2024, 3, 2, 6))],
)
def test_bad_windows_are_refused(start: object, end: object) -> None:
    with pytest.raises(FunnelError):
        window_vars(start, end)  # type: ignore[arg-type]


def test_bad_timezone_is_refused() -> None:
    with pytest.raises(FunnelError, match="Mars/Olympus"):
        window_vars("2024-03-10", "2024-03-11", "Mars/Olympus")


def test_run_tags_to_partition_range() -> None:
    assert run_partition_range({"dagster/partition": "2024-05-01"}) == ("2024-05-01", "2024-05-01")
    tags = {"dagster/asset_partition_range_start": "2024-05-01", "dagster/asset_partition_range_end": "2024-05-10"}
    assert run_partition_range(tags) == ("2024-05-01", "2024-05-10")
    assert run_partition_range({}) is None


def test_clamp_range_to_existing_partitions() -> None:
    assert clamp_range(date(2023, 6, 1), date(2024, 1, 3), date(2024, 6, 1)).start == "2024-01-01"  # type: ignore[union-attr]
    assert clamp_range(date(2024, 5, 1), date(2024, 7, 1), date(2024, 6, 1)).end == "2024-06-01"  # type: ignore[union-attr]
    assert clamp_range(date(2024, 7, 1), date(2024, 7, 9), date(2024, 6, 1)) is None


# --------------------------------------------------------------------------------------- definitions


def test_definitions_load(defs, repo) -> None:
    assert repo.asset_graph.get_all_asset_keys()
    assert {r for r in repo.get_top_level_resources()} >= {"dbt"}


def test_every_dbt_model_and_seed_is_an_asset(repo, manifest) -> None:
    from orchestration.dagster.assets import TRANSLATOR

    keys = repo.asset_graph.get_all_asset_keys()
    nodes = _nodes(manifest, "model") + _nodes(manifest, "seed") + _nodes(manifest, "snapshot")
    assert nodes, "the dbt project has no models yet"
    missing = [n["unique_id"] for n in nodes if TRANSLATOR.get_asset_key(n) not in keys]
    assert not missing


def test_asset_keys_and_groups_follow_the_dbt_folders(repo, manifest) -> None:
    from orchestration.dagster.assets import TRANSLATOR

    for node in _nodes(manifest, "model"):
        key = TRANSLATOR.get_asset_key(node)
        assert key.path == [*node["fqn"][1:-1], node["name"]]
        assert repo.asset_graph.get(key).group_name == "_".join(node["fqn"][1:-1][:2])
        if node.get("description"):
            assert node["description"] in (repo.asset_graph.get(key).description or "")
    groups = {repo.asset_graph.get(k).group_name for k in repo.asset_graph.get_all_asset_keys()}
    assert {"raw_pipedrive", "raw_field_crm", "staging_pipedrive"} <= groups


def test_dbt_sources_are_the_raw_assets(repo, manifest) -> None:
    """Every dbt source resolves to a raw asset the loader materialises: the graph is raw -> staging -> marts."""
    from orchestration.dagster.assets import TRANSLATOR

    raw = {k for k in repo.asset_graph.get_all_asset_keys() if k.path[0] == "raw"}
    assert len(raw) == 12
    # the privacy source (suppression list) is written by `funnel forget`, not loaded: an external asset
    sources = [s for s in manifest["sources"].values() if s["source_name"] != "privacy"]
    assert sources
    for source in sources:
        key = TRANSLATOR.get_asset_key(source)
        assert key in raw, f"{source['unique_id']} -> {key.to_user_string()} is not a raw asset"
    external = [k for k in repo.asset_graph.get_all_asset_keys() if not repo.asset_graph.get(k).is_materializable]
    assert external == [AssetKey(["privacy", "suppressions"])]


def test_incremental_models_are_daily_partitioned_with_single_run_backfills(repo, manifest) -> None:
    from orchestration.dagster.assets import DBT_ASSETS, DBT_POOL, TRANSLATOR

    incremental = {TRANSLATOR.get_asset_key(n) for n in _nodes(manifest, "model") if is_windowed(n)}
    assert incremental, "no windowed incremental model in the dbt project yet"
    by_name = {d.node_def.name: d for d in DBT_ASSETS}
    assert set(by_name) == {"dbt_incremental_models", "dbt_models"}
    partitioned, plain = by_name["dbt_incremental_models"], by_name["dbt_models"]
    assert set(partitioned.keys) == incremental
    assert not set(plain.keys) & incremental
    assert isinstance(partitioned.partitions_def, DailyPartitionsDefinition)
    assert partitioned.partitions_def.start.date() == date(2024, 1, 1)
    assert partitioned.partitions_def.timezone == "UTC"
    assert partitioned.backfill_policy == BackfillPolicy.single_run()
    assert plain.partitions_def is None
    for definition in DBT_ASSETS:
        assert definition.op.pool == DBT_POOL
    assert AssetKey(["marts", "funnel", "rep_sales_funnel_monthly"]) in incremental


def test_partitions_start_and_timezone_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.dagster.partitions import daily_partitions

    monkeypatch.setenv("FUNNEL_PARTITIONS_START", "2023-07-01")
    monkeypatch.setenv("FUNNEL_TIMEZONE", "Europe/Berlin")
    partitions = daily_partitions()
    assert partitions.get_first_partition_key() == "2023-07-01"
    assert partitions.timezone == "Europe/Berlin"


def test_jobs_schedules_and_sensors_are_named(repo) -> None:
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {
        "dbt_daily_job",
        "dbt_replay_35d_job",
        "dbt_full_refresh_job",
        "raw_pipedrive_job",
        "raw_field_crm_job",
        "gx_checks_job",
        "privacy_purge_job",
        "reconcile_job",
    } <= jobs
    assert {s.name for s in repo.schedule_defs} == {
        "dbt_daily_schedule",
        "dbt_weekly_replay_schedule",
        "mart_export_schedule",
        "privacy_purge_schedule",
        "reconcile_schedule",
    }
    assert {s.name for s in repo.sensor_defs} == {"landing_sensor", "raw_landed_sensor"}
    for name in ("dbt_daily_job", "dbt_replay_35d_job", "dbt_full_refresh_job", "privacy_purge_job", "reconcile_job"):
        assert repo.get_job(name).run_tags["funnel/warehouse"] == "dbt"
    for name in ("privacy_purge_job", "reconcile_job"):
        assert {node.definition.pool for node in repo.get_job(name).graph.node_dict.values()} == {"dbt_warehouse"}
    assert repo.get_job("dbt_full_refresh_job").run_tags["funnel/full_refresh"] == "true"
    assert "funnel/full_refresh" not in repo.get_job("dbt_daily_job").run_tags


def test_checks_are_dbt_tests_plus_blocking_gx_checks(repo, manifest) -> None:
    checks = repo.asset_graph.asset_check_keys
    names = {c.name for c in checks}
    model_tests = [t for t in _nodes(manifest, "test") if (t.get("attached_node") or "").startswith("model.")]
    assert model_tests, "the dbt project has no data tests yet"
    assert {t["name"] for t in model_tests} <= names
    gx_check = [c for c in checks if c.name == "gx_rep_sales_funnel_monthly"]
    assert gx_check and gx_check[0].asset_key == AssetKey(["marts", "funnel", "rep_sales_funnel_monthly"])
    assert repo.asset_graph.get_check_spec(gx_check[0]).blocking


def test_daily_schedule_runs_yesterdays_partition_in_the_business_timezone(repo) -> None:
    schedule = repo.get_schedule_def("dbt_daily_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.execution_timezone == "UTC"
    when = datetime(2024, 6, 15, 1, 0, tzinfo=ZoneInfo("UTC"))
    with build_schedule_context(scheduled_execution_time=when, repository_def=repo) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2024-06-14"]


def test_weekly_schedule_replays_the_last_35_days_in_one_run(repo) -> None:
    schedule = repo.get_schedule_def("dbt_weekly_replay_schedule")
    assert schedule.job_name == "dbt_replay_35d_job"
    when = datetime(2024, 6, 16, 3, 0, tzinfo=ZoneInfo("UTC"))
    with build_schedule_context(scheduled_execution_time=when, repository_def=repo) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert (request.partition_key_range.start, request.partition_key_range.end) == ("2024-05-12", "2024-06-15")
    assert key_range_vars(request.partition_key_range.start, request.partition_key_range.end)["backfill_period"] == 34


def test_landing_sensor_requests_a_load_for_new_and_changed_files(
    repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FUNNEL_LANDING_DIR", str(tmp_path))
    sensor = repo.get_sensor_def("landing_sensor")
    with build_sensor_context(repository_def=repo) as context:
        assert isinstance(next(iter(sensor(context))), SkipReason)
    (tmp_path / "pipedrive").mkdir()
    (tmp_path / "pipedrive" / "stages.csv").write_text("stage_id,stage_name\n1,Lead\n")
    (tmp_path / "pipedrive" / "notes.txt").write_text("not a contract file")
    with build_sensor_context(repository_def=repo) as context:
        (request,) = [r for r in sensor(context) if isinstance(r, RunRequest)]
        cursor = context.cursor
    assert request.job_name == "raw_pipedrive_job"
    assert request.run_config == {"ops": {"raw_pipedrive": {"config": {"replace": False}}}}
    with build_sensor_context(repository_def=repo, cursor=cursor) as context:
        assert isinstance(next(iter(sensor(context))), SkipReason)
    (tmp_path / "pipedrive" / "stages.csv").write_text("stage_id,stage_name\n1,Lead\n2,Qualified\n")
    (tmp_path / "pipedrive" / "deal_changes__2024-06-02.csv").write_text(
        "deal_id,change_time,changed_field_key,new_value\n"
    )
    with build_sensor_context(repository_def=repo, cursor=cursor) as context:
        (request,) = [r for r in sensor(context) if isinstance(r, RunRequest)]
    assert request.run_config == {"ops": {"raw_pipedrive": {"config": {"replace": True}}}}
    assert request.tags["funnel/landing_new"] == "deal_changes__2024-06-02.csv"
    assert request.tags["funnel/landing_changed"] == "stages.csv"


def test_landed_rows_touch_their_dates_and_lookups_touch_everything() -> None:
    from orchestration.dagster.sensors import touched_range

    newest = date(2024, 6, 30)
    events = [
        {"new_rows": 10, "touched_from": "2024-06-01", "touched_to": "2024-06-03"},
        {"new_rows": 2, "touched_from": "2024-05-30", "touched_to": "2024-06-02"},
    ]
    assert touched_range(events, newest) == ("2024-05-30", "2024-06-03")
    assert touched_range([*events, {"new_rows": 4, "touches_all_dates": True}], newest) == ("2024-01-01", "2024-06-30")
    assert touched_range([{"new_rows": 0, "touches_all_dates": True}], newest) is None
    assert touched_range([{"new_rows": 5, "touched_from": "2024-07-05", "touched_to": "2024-07-09"}], newest) is None


def test_dagster_yaml_holds_no_secrets_and_limits_dbt_runs() -> None:
    text = (REPO_ROOT / "dagster.yaml").read_text()
    assert "password" not in text.lower() and "postgresql://" not in text
    config = yaml.safe_load(text)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "FUNNEL_DAGSTER_PG_URL"}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert {"key": "funnel/warehouse", "value": "dbt", "limit": 1} in config["concurrency"]["runs"][
        "tag_concurrency_limits"
    ]
    # That Dagster accepts it is proven where an instance runs on it (tests/test_dagster_ui.py).
