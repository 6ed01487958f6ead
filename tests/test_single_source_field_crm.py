"""field_crm alone: builds, reconciles, runs the Dagster daily job, and a past-dated run keeps later history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster_helpers import dagster_daily
from single_source import PARTITION, SOURCE_DT, failures, funnel, ok, scenario, schemas

from orchestration.core.settings import Connection
from orchestration.ingest.generators.field_crm import generate_field_crm


@pytest.fixture(scope="module")
def field_crm_only(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    for wh, env, tmp in scenario(server, tmp_path_factory, "field_crm"):
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
