"""A build made with the CLI is recorded in the Dagster instance `funnel ui` opens: the assets and partitions
it built are materialized and every dbt test that ran is a check result, described (not "No description")."""

from __future__ import annotations

import json
from datetime import date

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from orchestration.core import warehouse
from orchestration.core.manifest import target_path
from orchestration.dagster.report import report_build
from orchestration.dagster.translator import describe_dbt_test
from orchestration.ingest.generators.pipedrive import generate_pipedrive

SOURCE_DT = "2024-06-30"
MART = AssetKey(["marts", "funnel", "rep_sales_funnel_monthly"])
DAILY = AssetKey(["intermediate", "funnel", "int_deal_stats_daily"])


@pytest.fixture(scope="module")
def recorded(wh, tmp_path_factory: pytest.TempPathFactory):
    export = tmp_path_factory.mktemp("export")
    generate_pipedrive(export, deals=60, seed=3, end=date(2024, 6, 30), days=60)
    wh.load(export, "pipedrive")
    wh.dbt("build", "--full-refresh", variables={"source_dt": SOURCE_DT})
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("dagster_home")
    mp.setenv("FUNNEL_DAGSTER_HOME", str(home))
    mp.setenv("FUNNEL_DAGSTER_DB", "t_dagster_report_instance")
    mp.setenv("FUNNEL_PARTITIONS_START", "2024-06-01")
    try:
        warehouse.drop_database(wh.conn.with_database("t_dagster_report_instance"))
        first = report_build({"source_dt": SOURCE_DT}, True, target_path())
        window = report_build({"source_dt": SOURCE_DT, "backfill_period": 2}, False, target_path())
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("FUNNEL_DAGSTER_PG_URL", wh.conn.with_database("t_dagster_report_instance").url())
        with DagsterInstance.get() as instance:
            yield first, window, instance
    finally:
        mp.undo()
        warehouse.drop_database(wh.conn.with_database("t_dagster_report_instance"))


def test_a_full_build_materializes_every_partition_up_to_source_dt(recorded) -> None:
    first, window, instance = recorded
    june = {f"2024-06-{d:02d}" for d in range(1, 31)}
    assert instance.get_materialized_partitions(DAILY) == june
    assert instance.get_latest_materialization_event(AssetKey(["staging", "pipedrive", "stg_pipedrive__stages"]))
    # the second, incremental build wrote its window only: 3 days per incremental model
    assert window.materializations < first.materializations
    assert first.checks == window.checks > 80  # every dbt test of the Pipedrive build (98)


def test_every_dbt_test_is_a_check_result_with_a_description(recorded) -> None:
    _, _, instance = recorded
    manifest = json.loads((target_path() / "manifest.json").read_text())
    tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node.get("attached_node") == "model.funnel.rep_sales_funnel_monthly"
    ]
    assert len(tests) >= 3
    for node in tests:
        record = instance.get_latest_asset_check_evaluation_record(AssetCheckKey(MART, node["name"]))
        assert record is not None, node["name"]
        assert describe_dbt_test(node).startswith("dbt "), node["name"]
    generic = {"name": "unique_x", "column_name": "deal_id", "test_metadata": {"name": "unique", "kwargs": {}}}
    assert describe_dbt_test(generic) == "dbt test `unique` on `deal_id`"
