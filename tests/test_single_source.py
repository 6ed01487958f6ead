"""Every source is optional: a warehouse holding one source builds, checks, reconciles and runs in Dagster.

Each scenario has a database of its own and drives the product as a user does: `funnel up --data`, `funnel
load`, `funnel build`, `funnel reconcile` and the Dagster daily job, each in a real subprocess (the Dagster code
location reads the switches from that warehouse's ledger when it loads, as it does in `funnel ui`). The
Pipedrive funnel is compared with the independent computation of tests/test_pipedrive_funnel.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import Warehouse, make_warehouse
from dagster_helpers import dagster_daily
from test_pipedrive_funnel import expected_funnel

from orchestration.core.settings import Connection
from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.pipedrive import generate_pipedrive

SOURCE_DT = date(2025, 3, 31)
PARTITION = "2025-03-31"


def user_env(wh: Warehouse, tmp: Path) -> dict[str, str]:
    """A user's shell pointed at this warehouse: no switches set by hand, own home and dbt target folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "FUNNEL_"))}
    return {
        **env,
        "FUNNEL_DATABASE_URL": wh.conn.url(),
        "FUNNEL_HOME": str(tmp / "home"),
        "DBT_TARGET_PATH": str(tmp / "target"),
        "FUNNEL_DAGSTER_REPORT": "off",  # tests/test_dagster_report.py covers the record
    }


def funnel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def failures(out: str) -> list[str]:
    """The summary's failure lines: `failed: <node>` and layers with failed nodes (not the progress line)."""
    return [
        line
        for line in out.splitlines()
        if line.startswith("failed:") or (" failed" in line and not line.lstrip().startswith("building:"))
    ]


def schemas(wh: Warehouse) -> set[str]:
    return {str(r[0]) for r in wh.query("select table_schema || '.' || table_name from information_schema.tables")}


@pytest.fixture(scope="module")
def pipedrive_real(server: Connection, shared_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """`funnel up --data <real export> --source pipedrive` into an empty warehouse."""
    for wh in make_warehouse(server, "single_pipedrive_real"):
        tmp = tmp_path_factory.mktemp("pipedrive_real")
        env = user_env(wh, tmp)
        up = funnel(env, "up", "--data", str(shared_export), "--source", "pipedrive", "--source-dt", PARTITION)
        yield wh, env, ok(up)


@pytest.mark.shared
def test_pipedrive_only_real_export_builds_every_test_passing(pipedrive_real, shared_export) -> None:
    wh, _, out = pipedrive_real
    assert "sources: pipedrive (off: field_crm" in out
    assert not failures(out)
    assert len(out.splitlines()) <= 60, f"{len(out.splitlines())} lines:\n{out}"
    assert wh.scalar("select count(*) from raw.load_ledger where source = 'field_crm'") == 0, "sample data added"
    tables = schemas(wh)
    assert "dev_marts.rep_sales_funnel_monthly" in tables
    assert not any("field_crm" in t or "field_service" in t or t.endswith("lead_funnel_daily") for t in tables)
    expected = expected_funnel(shared_export, SOURCE_DT, "UTC")
    rows = wh.query("select month, funnel_step, kpi_name, deals_count from dev_marts.rep_sales_funnel_monthly")
    assert {(m, s): (k, n) for m, s, k, n in rows} == expected


@pytest.mark.shared
def test_pipedrive_only_reconciles_and_runs_the_dagster_daily_job(pipedrive_real) -> None:
    _, env, _ = pipedrive_real
    audit = ok(funnel(env, "reconcile", "--source-dt", PARTITION))
    assert "0 mismatches: reconciled" in audit and "field_crm: nothing loaded" in audit
    run = dagster_daily(env, PARTITION)
    materialized = run["materialized"]
    assert "marts/funnel/rep_sales_funnel_monthly" in materialized
    assert not [key for key in materialized if "field_service" in key or "field_crm" in key], materialized
    assert run["checks"], "the dbt tests ran as asset checks"
    # GX on one source: the Pipedrive marts' checkpoints only, and no progress bars on stderr
    checked = funnel(env, "check", "--as-of", PARTITION)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "rep_sales_funnel_monthly" in checked.stdout and "lead_funnel_monthly" not in checked.stdout
    assert "Calculating Metrics" not in checked.stderr and len(checked.stderr) < 500, checked.stderr[-500:]


@pytest.fixture(scope="module")
def generated(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A generated Pipedrive export, loaded and built alone; field_crm comes later."""
    for wh in make_warehouse(server, "single_generated"):
        tmp = tmp_path_factory.mktemp("generated")
        env = user_env(wh, tmp)
        generate_pipedrive(tmp / "pipedrive", deals=400, seed=5, end=SOURCE_DT, days=240)
        generate_field_crm(tmp / "field_crm", leads=600, seed=5, end=SOURCE_DT, days=240)
        empty = funnel(env, "build")
        ok(funnel(env, "load", str(tmp / "pipedrive"), "--source", "pipedrive"))
        built = ok(funnel(env, "build", "--full-refresh", "--source-dt", PARTITION))
        yield wh, env, tmp, empty, built


def test_build_of_an_empty_warehouse_says_so_in_one_line(generated) -> None:
    _, _, _, empty, _ = generated
    assert empty.returncode == 1
    assert empty.stdout == ""
    assert empty.stderr.splitlines() == [
        "error: nothing is loaded in database 't_single_generated': there is nothing to build",
        "hint: load an export (funnel load DIR --source pipedrive|field_crm) or run `funnel up` for sample data",
    ]


def test_generated_pipedrive_only_builds_and_matches_the_funnel(generated) -> None:
    wh, _, tmp, _, built = generated
    assert built.startswith("sources: pipedrive (off: field_crm")
    assert not failures(built)
    rows = wh.query("select month, funnel_step, kpi_name, deals_count from dev_marts.rep_sales_funnel_monthly")
    assert {(m, s): (k, n) for m, s, k, n in rows} == expected_funnel(tmp / "pipedrive", SOURCE_DT, "UTC")
    assert "dev_marts.fct_jobs" not in schemas(wh)


def test_up_adds_no_sample_data_to_a_warehouse_with_real_loads(generated, monkeypatch, capsys) -> None:
    from orchestration.cli.up import _land

    wh, *_ = generated
    monkeypatch.setenv("FUNNEL_DB_NAME", wh.conn.dbname)
    loads = wh.scalar("select count(*) from raw.load_ledger")
    _land(SOURCE_DT, None, None)
    assert "warehouse holds loads of pipedrive: no sample data added" in capsys.readouterr().out
    assert wh.scalar("select count(*) from raw.load_ledger") == loads
    assert wh.scalar("select to_regclass('raw_field_crm.leads')") is None


def test_second_source_switched_on_later_leaves_the_first_alone(generated) -> None:
    """Loading field_crm later builds it; Pipedrive's incremental rows outside the window are not rewritten."""
    wh, env, tmp, _, _ = generated
    old = "select month, funnel_step, xmin::text from dev_marts.rep_sales_funnel_monthly where month < '2025-03-01'"
    before = sorted(wh.query(old))
    assert before
    ok(funnel(env, "load", str(tmp / "field_crm"), "--source", "field_crm"))
    built = ok(funnel(env, "build", "--source-dt", PARTITION))
    assert built.startswith("sources: pipedrive, field_crm\n")
    assert not failures(built)
    assert sorted(wh.query(old)) == before, "rows outside the window were rewritten"
    assert wh.scalar("select count(*) from dev_marts.fct_lead_conversions") > 0
    sources = {r[0] for r in wh.query("select distinct source_system from dev_intermediate.privacy_raw_rows")}
    assert sources == {"pipedrive", "field_crm"}
    assert "0 mismatches: reconciled" in ok(funnel(env, "reconcile", "--source-dt", PARTITION))


@pytest.fixture(scope="module")
def field_crm_only(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    for wh in make_warehouse(server, "single_field_crm"):
        tmp = tmp_path_factory.mktemp("field_crm")
        env = user_env(wh, tmp)
        generate_field_crm(tmp / "export", leads=800, seed=7, end=SOURCE_DT, days=240)
        ok(funnel(env, "load", str(tmp / "export"), "--source", "field_crm"))
        yield wh, env, ok(funnel(env, "build", "--full-refresh", "--source-dt", PARTITION))


def test_field_crm_only_builds_reconciles_and_runs_in_dagster(field_crm_only) -> None:
    wh, env, built = field_crm_only
    assert built.startswith("sources: field_crm (off: pipedrive")
    assert not failures(built)
    tables = schemas(wh)
    assert {"dev_marts.metrics_daily", "dev_marts.lead_funnel_monthly", "dev_intermediate.privacy_raw_rows"} <= tables
    assert not any("pipedrive" in t or t.endswith("rep_sales_funnel_monthly") for t in tables)
    assert {r[0] for r in wh.query("select distinct source_system from dev_intermediate.privacy_raw_rows")} == {
        "field_crm"
    }
    audit = ok(funnel(env, "reconcile", "--source-dt", PARTITION))
    assert "0 mismatches: reconciled" in audit and "pipedrive: nothing loaded" in audit
    run = dagster_daily(env, PARTITION)
    assert "marts/field_service/metrics_daily" in run["materialized"]
    assert not [key for key in run["materialized"] if "funnel/" in key or "pipedrive" in key]


def test_a_past_dated_field_crm_run_keeps_later_history(field_crm_only) -> None:
    """The as-of rule on the tables rebuilt whole: a backfill run for an earlier day leaves them as they were."""
    wh, env, _ = field_crm_only
    tables = ["fct_jobs", "dim_customers", "fct_booked_opportunities", "lead_cohort_monthly"]
    snapshot = "select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from dev_marts.{} as t"
    before = {t: wh.query(snapshot.format(t)) for t in tables}
    assert wh.scalar("select count(*) from dev_marts.fct_jobs where is_done") > 0
    ok(funnel(env, "build", "--source-dt", "2024-12-31"))
    assert {t: wh.query(snapshot.format(t)) for t in tables} == before
