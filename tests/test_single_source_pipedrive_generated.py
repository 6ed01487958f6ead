"""Pipedrive alone from a generated export (an empty warehouse refuses to build; `funnel up` adds no samples),
then field_crm switched on later without rewriting Pipedrive's history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from single_source import PARTITION, SOURCE_DT, failures, funnel, ok, scenario, schemas
from test_pipedrive_funnel import expected_funnel

from orchestration.core.settings import Connection
from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.pipedrive import generate_pipedrive


@pytest.fixture(scope="module")
def generated(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A generated Pipedrive export, loaded and built alone; field_crm comes later."""
    for wh, env, tmp in scenario(server, tmp_path_factory, "generated"):
        generate_pipedrive(tmp / "pipedrive", deals=400, seed=5, end=SOURCE_DT, days=240)
        generate_field_crm(tmp / "field_crm", leads=600, seed=5, end=SOURCE_DT, days=240)
        empty = funnel(env, "build")
        ok(funnel(env, "load", str(tmp / "pipedrive"), "--source", "pipedrive"))
        built = ok(funnel(env, "build", "--full-refresh", "--source-dt", PARTITION))
        yield wh, env, tmp, empty, built


def test_build_of_an_empty_warehouse_says_so_in_one_line(generated) -> None:
    wh, _, _, empty, _ = generated
    assert empty.returncode == 1
    assert empty.stdout == ""
    assert empty.stderr.splitlines() == [
        f"error: nothing is loaded in database '{wh.conn.dbname}': there is nothing to build",
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
