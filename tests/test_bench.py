"""The benchmark harness end to end on a tiny size: every measure is reported, with sane values, and every
correctness check of the benchmarked builds passes. Timing is never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestration.core import warehouse
from orchestration.core.settings import REPO_ROOT, Connection

MEASURES = {
    "generate",
    "load",
    "full_build",
    "full_build_with_tests",
    "daily_incremental",
    "daily_window",
    "backfill_30d",
    "bi_queries",
    "lower_bound",
    "dbt_parse",
    "dbt_parse_new_vars",
    "no_change_build",
}
# The measure that needs a given model, to tell a legitimate "model missing" from a broken harness.
NEEDS = {
    "lower_bound": "rep_sales_funnel_monthly",
    "funnel_month_by_step": "rep_sales_funnel_monthly",
    "pipeline_velocity_quarter_by_stage_region": "pipeline_velocity_daily",
    "activity_volume_month_by_owner": "activity_volume_daily",
}
TARGETS = 7
DATABASE = "t_test_bench"
# The funnel marts the BI queries and the lower bound read, with everything upstream (incremental models
# included): every harness code path runs, on a third of the project, so the test stays short.
SELECT = "+rep_sales_funnel_monthly +pipeline_velocity_daily +activity_volume_daily"


@pytest.fixture(scope="module")
def result(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ}
    env.pop("FUNNEL_DB_NAME", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--size",
            "XS",
            "--repeat",
            "1",
            "--bi-runs",
            "5",
            "--out",
            str(out),
            "--work",
            str(out / "work"),
            "--database",
            DATABASE,
            "--select",
            SELECT,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    files = sorted(out.glob("XS-*.json"))
    assert files, f"no result written (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    data = json.loads(files[-1].read_text())
    data["_exit"] = proc.returncode
    data["_stdout"] = proc.stdout
    data["_stderr"] = proc.stderr
    data["_md"] = (out / f"{files[-1].stem}.md").read_text()
    return data


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
            elif name in {"daily_incremental", "daily_window", "backfill_30d", "no_change_build"}:
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


def test_report_has_machine_targets_and_table(result: dict) -> None:
    machine = result["machine"]
    assert machine["nproc"] >= 1 and machine["ram_gb"] > 0 and machine["cpu_model"]
    assert machine["postgres"] and machine["dbt_core"].startswith("1.11")
    assert len(result["targets"]) == TARGETS
    assert all(t["met"] in (True, False, None) and t["measured"] for t in result["targets"])
    md = result["_md"]
    assert md.startswith("### Benchmark, size XS") and "| Measure | Result | Detail |" in md
    assert "| Target (issue 7) | Measured | Met |" in md and md in result["_stdout"]


def test_benchmark_databases_are_dropped(server: Connection, result: dict) -> None:
    assert result["database"] == DATABASE
    with warehouse.connect(server.with_database("postgres"), autocommit=True) as db:
        left = db.execute("select datname from pg_database where datname like %s", (DATABASE + "%",)).fetchall()
    assert left == []
