"""`reconcile()` (the `funnel reconcile` audit) on real and generated data, and that it catches tampering.

- On the shared Enpal export and on generated data of both sources, after a full refresh and incremental runs,
  every raw table reconciles (raw = staged + duplicates + rejected) and every incremental model equals a fresh
  full refresh over the dates it covers: zero mismatches.
- One changed mart value and one doubled row are each reported as a mismatch; the scratch schemas are gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from conftest import make_warehouse

from orchestration.core.dbt import dbt_vars
from orchestration.ops.reconcile import format_report, reconcile

PIPEDRIVE_CHAIN = "+staging.pipedrive +marts.funnel"
PIPEDRIVE_INCREMENTAL = {
    "int_deal_stats_daily",
    "int_activity_stats_daily",
    "int_deal_stats_monthly",
    "int_activity_stats_monthly",
    "int_funnel_stats_monthly",
    "rep_sales_funnel_monthly",
}
FIELD_CRM_INCREMENTAL = {"lead_funnel_daily", "lead_funnel_monthly", "metrics_daily", "sales_performance_monthly"}


def build(wh, select: str, source_dt: date, backfill: int | None = None, full_refresh: bool = False) -> None:
    args = ["build", "--select", select, "--exclude", "resource_type:test", "resource_type:unit_test"]
    wh.dbt(*args, *(["--full-refresh"] if full_refresh else []), variables=dbt_vars(source_dt, backfill))


def leftover_scratch(wh) -> int:
    return wh.scalar("select count(*) from pg_namespace where nspname like 'reconcile%'")


def assert_reconciled(report, sources: set[str], models: set[str]) -> None:
    text = format_report(report)
    assert report.ok, text
    assert {t.source for t in report.tables} == sources, text
    assert models <= {m.model for m in report.models}, text
    for check in report.models:
        if check.model in models:
            assert check.covered_dates > 0, text
    assert text.endswith("0 mismatches: reconciled")


@pytest.fixture(scope="module")
def shared_wh(server, shared_export):
    yield from make_warehouse(server, "reliability_reconcile_shared")


@pytest.fixture(scope="module")
def generated_wh(server, tmp_path_factory):
    from orchestration.ingest.generators.field_crm import generate_field_crm
    from orchestration.ingest.generators.pipedrive import generate_pipedrive

    out = tmp_path_factory.mktemp("reconcile_gen")
    generate_pipedrive(out / "pd", deals=200, seed=5, end=date(2025, 3, 31), days=120)
    generate_field_crm(out / "fc", leads=300, seed=5, end=date(2025, 3, 31), days=120)
    for wh in make_warehouse(server, "reliability_reconcile_generated"):
        wh.load(out / "pd", "pipedrive")
        wh.load(out / "fc", "field_crm")
        # a full refresh, then two incremental runs with other windows: what reconcile must find consistent
        build(wh, "+staging +config.materialized:incremental", date(2025, 3, 20), full_refresh=True)
        build(wh, "config.materialized:incremental", date(2025, 3, 23), backfill=2)
        build(wh, "config.materialized:incremental", date(2025, 3, 26), backfill=4)
        yield wh


def test_shared_export_reconciles_and_tampering_is_caught(shared_wh, shared_export) -> None:
    wh = shared_wh
    wh.load(shared_export, "pipedrive")
    build(wh, PIPEDRIVE_CHAIN, date(2024, 6, 28), full_refresh=True)
    build(wh, "config.materialized:incremental,staging.pipedrive+", date(2024, 7, 2), backfill=3)
    assert_reconciled(reconcile(source_dt="2024-07-02", conn=wh.conn), {"pipedrive"}, PIPEDRIVE_INCREMENTAL)
    assert leftover_scratch(wh) == 0

    # One mart value changed, and one daily row doubled: both are mismatches, nothing else is.
    column = wh.scalar(
        "select column_name from information_schema.columns where table_schema = 'dev_marts'"
        " and table_name = 'rep_sales_funnel_monthly' and data_type in ('bigint', 'integer', 'numeric')"
        " order by ordinal_position limit 1"
    )
    wh.query(
        f"update dev_marts.rep_sales_funnel_monthly set {column} = {column} + 1"
        " where ctid = (select ctid from dev_marts.rep_sales_funnel_monthly limit 1)"
    )
    wh.query(
        "insert into dev_intermediate.int_deal_stats_daily"
        " select * from dev_intermediate.int_deal_stats_daily order by date_day desc limit 1"
    )
    report = reconcile(source_dt="2024-07-02", conn=wh.conn)
    failing = {m.model: (m.extra_rows, m.missing_rows) for m in report.models if not m.ok}
    assert failing == {"rep_sales_funnel_monthly": (1, 1), "int_deal_stats_daily": (1, 0)}, format_report(report)
    assert report.mismatches == 2
    assert "MISMATCH" in format_report(report)
    assert leftover_scratch(wh) == 0


def test_generated_data_of_both_sources_reconciles(generated_wh) -> None:
    wh = generated_wh
    report = reconcile(source_dt="2025-03-26", conn=wh.conn)
    assert_reconciled(report, {"pipedrive", "field_crm"}, PIPEDRIVE_INCREMENTAL | FIELD_CRM_INCREMENTAL)
    field_crm = {t.source_table: t for t in report.tables if t.source == "field_crm"}
    assert {"leads", "jobs", "booked_opportunities"} <= set(field_crm)
    assert sum(t.rejected_rows for t in field_crm.values()) > 0  # the generator plants bad rows: they are counted
    assert all(sum(t.rejects_by_reason.values()) == t.rejected_rows for t in report.tables)
    assert leftover_scratch(wh) == 0


@pytest.mark.slow  # ~2 min: a second full reconcile of the same data, through the CLI
def test_funnel_reconcile_command_exit_codes(generated_wh) -> None:
    """`funnel reconcile` exits 0 when reconciled and 2 after a mart row is tampered with."""
    wh = generated_wh
    command = [sys.executable, "-m", "orchestration.cli", "reconcile", "--source-dt", "2025-03-26"]
    env = {**os.environ, "FUNNEL_DB_NAME": wh.conn.dbname}
    clean = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 mismatches" in clean.stdout
    column = wh.scalar(
        "select column_name from information_schema.columns where table_schema = 'dev_marts'"
        " and table_name = 'lead_funnel_daily' and data_type in ('bigint', 'integer', 'numeric')"
        " order by ordinal_position limit 1"
    )
    wh.query(
        f"update dev_marts.lead_funnel_daily set {column} = {column} + 1"
        " where ctid = (select ctid from dev_marts.lead_funnel_daily limit 1)"
    )
    tampered = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert tampered.returncode == 2, tampered.stdout + tampered.stderr
    assert "lead_funnel_daily" in tampered.stdout and "MISMATCH" in tampered.stdout


def test_scratch_schema_is_validated_and_never_clobbers(generated_wh) -> None:
    from orchestration.core.errors import FunnelError

    with pytest.raises(FunnelError, match="not a plain identifier"):
        reconcile("x; drop schema dev_marts cascade", conn=generated_wh.conn)
    with pytest.raises(FunnelError, match=r"'dev'.*clashes"):  # would be dev_marts etc.: refused, nothing dropped
        reconcile("dev", source_dt="2025-03-26", conn=generated_wh.conn)
    assert generated_wh.scalar("select count(*) from dev_marts.metrics_daily") > 0
