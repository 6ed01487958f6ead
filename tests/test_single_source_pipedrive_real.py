"""Pipedrive alone, from the real export: `funnel up --data`, every test passing, the funnel equal to the
independent computation of tests/test_pipedrive_funnel.py, reconcile, the Dagster daily job and GX."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster_helpers import dagster_daily
from single_source import PARTITION, SOURCE_DT, failures, funnel, ok, scenario, schemas
from test_pipedrive_funnel import expected_funnel

from orchestration.core.settings import Connection


@pytest.fixture(scope="module")
def pipedrive_real(server: Connection, shared_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """`funnel up --data <real export> --source pipedrive` into an empty warehouse."""
    for wh, env, _tmp in scenario(server, tmp_path_factory, "pipedrive_real"):
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
