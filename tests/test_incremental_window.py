"""The window of every windowed incremental model is declared once (config `meta.window`) and deleted once per run;
every other incremental model is keyed (config `meta.keyed`, macros/incremental_keys.sql).

Both sources, small generated exports: a full refresh, then statement-level triggers count every DELETE that
reaches each incremental table during one incremental run. The delete_window pre-hook is the only delete (the
strategy appends), so each table sees exactly one DELETE statement: a second one (delete+insert deleting the
window again by key) would cost a scan of the window per run and was the reason for this test.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import Warehouse
from psycopg import sql

from orchestration.core.manifest import dbt_manifest, is_keyed, is_windowed, model_window
from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.pipedrive import generate_pipedrive

SOURCE_DT = date(2025, 5, 20)
SCHEMA = "win"
EXPECTED_INCREMENTAL = 10  # 6 Pipedrive funnel tables, 4 field-service KPI tables


@pytest.fixture(scope="module")
def built(wh: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Both sources loaded and every incremental model (and what it reads) built by a full refresh."""
    exports = tmp_path_factory.mktemp("window_exports")
    generate_pipedrive(exports / "pipedrive", deals=20, seed=5, end=SOURCE_DT, days=45)
    generate_field_crm(exports / "field_crm", leads=40, seed=5, end=SOURCE_DT, days=45)
    wh.load(exports / "pipedrive", "pipedrive")
    wh.load(exports / "field_crm", "field_crm")
    manifest = dbt_manifest(
        ["build", "--full-refresh", "--select", "+config.materialized:incremental",
         "--resource-type", "model", "--resource-type", "seed"],
        {"source_dt": SOURCE_DT.isoformat()},
        wh.conn,
        "dev",
        SCHEMA,
    )  # fmt: skip
    incremental = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["config"].get("materialized") == "incremental"
    ]  # fmt: skip
    unknown = [n["name"] for n in incremental if not is_windowed(n) and not is_keyed(n)]
    assert not unknown, f"incremental models that are neither windowed nor keyed: {unknown}"
    return {n["name"]: n for n in incremental if is_windowed(n)}


def test_every_incremental_model_declares_its_window(built: dict[str, dict]) -> None:
    assert len(built) == EXPECTED_INCREMENTAL, sorted(built)
    for name, node in built.items():
        column, grain = model_window(node)
        assert column in node["columns"], f"{name}: meta.window.column {column!r} is no documented column"
        assert grain in ("day", "month"), f"{name}: meta.window.grain {grain!r}"
        assert node["config"]["incremental_strategy"] == "append", f"{name}: the strategy would delete again"


def test_an_incremental_run_deletes_each_window_once(wh: Warehouse, built: dict[str, dict]) -> None:
    wh.query("create table public.delete_statements (table_schema text, table_name text)")
    wh.query(
        "create function public.count_delete() returns trigger language plpgsql as $$ begin"
        " insert into public.delete_statements values (tg_table_schema, tg_table_name); return null; end $$"
    )
    for node in built.values():
        relation = sql.Identifier(node["schema"], node["alias"] or node["name"])
        wh.query(
            sql.SQL(
                "create trigger count_delete after delete on {} for each statement"
                " execute function public.count_delete()"
            )
            .format(relation)
            .as_string()
        )
    dbt_manifest(
        ["run", "--select", "config.materialized:incremental"],
        {"source_dt": (SOURCE_DT + timedelta(days=1)).isoformat(), "backfill_period": 3},
        wh.conn,
        "dev",
        SCHEMA,
    )
    rows = wh.query("select table_name, count(*) from public.delete_statements group by table_name")
    counted = {str(table): count for table, count in rows}
    assert counted == {(node["alias"] or node["name"]): 1 for node in built.values()}
