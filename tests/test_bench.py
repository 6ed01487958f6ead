"""The benchmark harness end to end on a tiny size: every measure is reported, with sane values, and every
correctness check of the benchmarked builds passes. Timing is never asserted."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bench.landing import day_of, split_last_day
from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES
from orchestration.core.settings import REPO_ROOT, Connection
from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.pipedrive import generate_pipedrive

# The benchmark runs on its own (`make test-bench`, which CI runs after `make test`): it builds the project
# several times over and would take a fifth of the `make test` budget.
pytestmark = pytest.mark.bench

MEASURES = {
    "generate",
    "load",
    "full_build",
    "full_build_with_tests",
    "daily_incremental",
    "daily_load",
    "backfill_30d",
    "bi_queries",
    "lower_bound",
    "dbt_parse",
    "dbt_parse_new_vars",
    "no_change_build",
    "no_change_funnel_build",
}
# The measure that needs a given model, to tell a legitimate "model missing" from a broken harness.
NEEDS = {
    "lower_bound": "rep_sales_funnel_monthly",
    "funnel_month_by_step": "rep_sales_funnel_monthly",
    "pipeline_velocity_quarter_by_stage_region": "pipeline_velocity_daily",
    "activity_volume_month_by_owner": "activity_volume_daily",
}
TARGETS = 10
DAILY_MEASURES = {"daily_incremental", "daily_load", "backfill_30d", "no_change_build", "no_change_funnel_build"}
DATABASE = "t_test_bench"
# The funnel marts the BI queries and the lower bound read, with everything upstream (incremental models
# included): every harness code path runs, on a third of the project, so the test stays short.
SELECT = "+rep_sales_funnel_monthly +pipeline_velocity_daily +activity_volume_daily"


def run_bench(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("FUNNEL_DB_NAME", None)
    return subprocess.run(
        [sys.executable, "-m", "bench", "--size", "XS", "--repeat", "1", "--out", str(out), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def read_result(out: Path, pattern: str, proc: subprocess.CompletedProcess[str]) -> dict:
    files = sorted(out.glob(pattern))
    assert files, f"no result written (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    data = json.loads(files[-1].read_text())
    data["_exit"] = proc.returncode
    data["_stdout"] = proc.stdout
    data["_stderr"] = proc.stderr
    data["_md"] = (out / f"{files[-1].stem}.md").read_text()
    return data


@pytest.fixture(scope="module")
def result(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    proc = run_bench(out, "--bi-runs", "5", "--work", str(out / "work"), "--database", DATABASE, "--select", SELECT)
    return read_result(out, "XS-2*.json", proc)


def test_every_correctness_check_passes(result: dict) -> None:
    failed = [c for c in result["checks"] if c["passed"] is False]
    assert not failed, json.dumps(failed, indent=2)
    assert result["checks_passed"] and result["_exit"] == 0, result["_stderr"][-3000:]
    names = {c["name"] for c in result["checks"]}
    assert {"load reconciles", "full build (no tests) succeeds", "full build with tests passes"} <= names
    assert next(c for c in result["checks"] if c["name"] == "load reconciles")["passed"] is True


def test_every_measure_is_reported_with_sane_values(result: dict) -> None:
    measures = result["measures"]
    assert set(measures) == MEASURES
    models = set(result["models"]["all"])
    for name, m in measures.items():
        if m["status"] == "n/a":
            # Only a model that does not exist (yet) excuses a measure.
            assert m["reason"].startswith("n/a ("), (name, m)
            if name in NEEDS:
                assert NEEDS[name] not in models and "missing" in m["reason"], (name, m)
            elif name in DAILY_MEASURES:
                assert not result["models"]["incremental"], (name, m)
            continue
        assert m["status"] == "ok", (name, m)
        if "seconds" in m:
            assert 0 < m["seconds"] < 600, (name, m)
    gen, load = measures["generate"], measures["load"]
    assert gen["peak_rss_mb"] > 5 and gen["probe_peak_rss_mb"] > 5 and gen["bytes"] > 0
    assert load["rows"] > 1000 and load["rows_per_s"] > 0 and load["copy_floor_rows_per_s"] > 0
    assert 0 < load["ratio_to_copy"] < 10
    assert load["peak_rss_mb"] > 5 and load["probe_peak_rss_mb"] > 5
    assert result["dataset"]["deal_changes_per_deal"] > 3 and result["dataset"]["activities_per_deal"] > 2
    assert measures["dbt_parse"]["partial_parse_in_project"] is True
    assert measures["dbt_parse"]["partial_parse_used"] is True
    for query, r in measures["bi_queries"]["queries"].items():
        if r["status"] == "n/a":
            assert NEEDS[query] not in models, (query, r)
            continue
        assert r["status"] == "ok", (query, r)
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"] and r["executions"] == 5 and r["rows"] > 0
    if measures["lower_bound"]["status"] == "ok":
        assert measures["lower_bound"]["rows"] > 0 and measures["lower_bound"]["full_build_ratio"] > 0
    if result["models"]["incremental"]:
        assert {"daily incremental run equals a full refresh", "30-day backfill equals a full refresh"} <= {
            c["name"] for c in result["checks"] if c["passed"]
        }
        # the daily run starts from a real morning: the last day's rows landed apart, and some did
        held, landed = measures["generate"]["held_back"], measures["daily_load"]
        assert held["rows"] > 0 and landed["rows"] == held["rows"], (held, landed)
        assert measures["daily_incremental"]["landed_rows"] == held["rows"]


def test_report_has_machine_targets_and_table(result: dict) -> None:
    machine = result["machine"]
    assert machine["nproc"] >= 1 and machine["ram_gb"] > 0 and machine["cpu_model"]
    assert machine["postgres"] and machine["dbt_core"].startswith("1.11")
    assert len(result["targets"]) == TARGETS
    assert all(t["met"] in (True, False, None) and t["measured"] for t in result["targets"])
    md = result["_md"]
    assert md.startswith("### Benchmark, size XS") and "| Measure | Result | Detail |" in md
    assert "| Target | Measured | Met |" in md and md in result["_stdout"]


def test_benchmark_databases_are_dropped(server: Connection, result: dict) -> None:
    assert result["database"] == DATABASE
    with warehouse.connect(server.with_database("postgres"), autocommit=True) as db:
        left = db.execute("select datname from pg_database where datname like %s", (DATABASE + "%",)).fetchall()
    assert left == []


def test_the_last_day_is_held_back_row_for_row(tmp_path: Path) -> None:
    """The split the daily measure lands: every event table's rows dated the last day, and only those, move to
    `<table>__<day>.csv`; the rest keeps its bytes (the initial load sees the generated lines minus the day's)."""
    end = date(2025, 6, 30)
    data, day = tmp_path / "data", tmp_path / "day"
    generate_pipedrive(data / "pipedrive", deals=400, end=end, days=60)
    generate_field_crm(data / "field_crm", leads=1000, end=end, days=60)
    before = {p.relative_to(data): p.read_text().splitlines() for p in data.rglob("*.csv")}
    held = split_last_day(data, day, end)
    dated = {(s, t.name): t.dated_by for s, tables in SOURCES.items() for t in tables}
    assert sum(held.values()) > 0 and {"pipedrive/deal_changes__2025-06-30.csv"} <= set(held)
    for name, lines in before.items():
        source, table = name.parts[0], name.stem
        after = (data / name).read_text().splitlines()
        late_path = day / source / f"{table}__{end}.csv"
        late = late_path.read_text().splitlines() if late_path.exists() else []
        dated_by = dated[(source, table)]
        if dated_by is None:
            assert after == lines and not late, name
            continue
        assert late[:1] in ([], lines[:1]) and after[0] == lines[0], name
        assert sorted(after[1:] + late[1:]) == sorted(lines[1:]), name
        assert len(late[1:]) == held.get(f"{source}/{late_path.name}", 0), name
        column = lines[0].split(",").index(dated_by)
        days = {
            path: [day_of(r[column]) for r in csv.reader(rows[1:])] for path, rows in (("kept", after), ("late", late))
        }
        assert str(end) not in days["kept"] and set(days["late"]) <= {str(end)}, name


@pytest.mark.slow
def test_history_shape_compares_two_histories(server: Connection, tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--shape", "history", "--database", f"{DATABASE}_history", "--select", SELECT)
    data = read_result(tmp_path, "XS-history-*.json", proc)
    assert data["checks_passed"] and data["_exit"] == 0, data["_stderr"][-3000:]
    short, long = data["datasets"]
    assert (short["days"], long["days"]) == (540, 2700) and long["deals"] == 5 * short["deals"]
    assert all(d["measures"]["daily_load"]["rows"] > 0 for d in data["datasets"])
    assert data["daily_run_ratio"]["wall"] > 0 and len(data["targets"]) == 1
    assert data["_md"].startswith("### Benchmark, size XS, history")


@pytest.mark.slow
def test_peer_shape_matches_the_funnel(server: Connection, tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--peer", "--database", f"{DATABASE}_peer")
    data = read_result(tmp_path, "XS-peer-*.json", proc)
    assert data["checks_passed"] and data["_exit"] == 0, data["_stderr"][-3000:]
    names = {c["name"] for c in data["checks"] if c["passed"]}
    assert {
        "peer funnel equals rep_sales_funnel_monthly after the full builds",
        "peer funnel equals rep_sales_funnel_monthly after the daily runs",
    } <= names
    assert set(data["peer_over_ours"]) == {"full_build", "daily_run"} and len(data["targets"]) == 3
