"""The Great Expectations project in expectations/gx, without a warehouse: reviewable files, one checkpoint per
mart wired to its suite, no secrets, and how outcomes become Dagster check results and CLI summaries."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from dagster import AssetCheckSeverity

from orchestration.ops import gx

GX_DIR = gx.GX_DIR
SEVERITIES = {"critical", "warning", "info"}


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def manifest() -> dict:
    from orchestration.dagster.assets import MANIFEST

    return MANIFEST


def test_config_has_no_secrets_and_writes_outside_the_repo() -> None:
    text = (GX_DIR / "great_expectations.yml").read_text()
    config = yaml.safe_load(text)
    assert config["fluent_datasources"][gx.DATASOURCE]["connection_string"] == "${FUNNEL_GX_WAREHOUSE_URL}"
    assert config["stores"]["validation_results_store"]["store_backend"]["base_directory"] == "${FUNNEL_GX_RESULTS_DIR}"
    assert config["data_docs_sites"]["local_site"]["store_backend"]["base_directory"] == "${FUNNEL_GX_DOCS_DIR}"
    assert "postgresql://" not in text and "password" not in text.lower()
    assert config["analytics_enabled"] is False


def test_one_checkpoint_per_mart_wired_to_its_suite_and_table(manifest) -> None:
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assets = yaml.safe_load((GX_DIR / "great_expectations.yml").read_text())["fluent_datasources"][gx.DATASOURCE][
        "assets"
    ]
    names = gx.checkpoint_names()
    assert "rep_sales_funnel_monthly" in names
    for name in names:
        checkpoint = _json(GX_DIR / "checkpoints" / f"{name}.json")
        (validation_ref,) = checkpoint["validation_definitions"]
        validation = _json(GX_DIR / "validation_definitions" / f"{validation_ref['name']}.json")
        suite = _json(GX_DIR / "expectations" / f"{validation['suite']['name']}.json")
        assert validation["id"] == validation_ref["id"]
        assert suite["name"] == name and suite["id"] == validation["suite"]["id"]
        asset = assets[validation["data"]["asset"]["name"]]
        assert asset["id"] == validation["data"]["asset"]["id"]
        assert validation["data"]["batch_definition"]["id"] in {b["id"] for b in asset["batch_definitions"].values()}
        assert name in models, f"checkpoint {name} has no dbt model"
        assert models[name]["fqn"][1] == "marts"
        assert asset["table_name"] == (models[name]["alias"] or name)
        assert checkpoint["actions"] == [], "Data Docs are built once per run, not by each checkpoint"
        assert 3 <= len(suite["expectations"]) <= 20, f"{name}: keep suites small and meaningful"
        assert {e["severity"] for e in suite["expectations"]} <= SEVERITIES
        assert any(e["severity"] == "critical" for e in suite["expectations"])


def test_every_expected_column_exists_in_the_dbt_model(manifest) -> None:
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in gx.checkpoint_names():
        documented = set(models[name]["columns"])
        if not documented:
            continue
        for expectation in _json(GX_DIR / "expectations" / f"{name}.json")["expectations"]:
            kwargs = expectation["kwargs"]
            columns = [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list", []))
            columns += list(kwargs.get("column_set", []))
            assert set(columns) <= documented, f"{name}: {expectation['type']} names unknown columns"


def test_rep_sales_funnel_monthly_suite_covers_the_contract() -> None:
    suite = _json(GX_DIR / "expectations" / "rep_sales_funnel_monthly.json")
    by_type: dict[str, list[dict]] = {}
    for expectation in suite["expectations"]:
        by_type.setdefault(expectation["type"], []).append(expectation)
    assert by_type["expect_table_columns_to_match_set"][0]["kwargs"]["column_set"] == [
        "month",
        "kpi_name",
        "funnel_step",
        "deals_count",
    ]
    assert set(by_type["expect_column_distinct_values_to_equal_set"][0]["kwargs"]["value_set"]) == {
        "1",
        "2",
        "2.1",
        "3",
        "3.1",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
    }
    assert "expect_table_row_count_to_be_between" in by_type
    assert "expect_column_values_to_be_between" in by_type
    assert any("grid" in (e.get("description") or "") for e in by_type["unexpected_rows_expectation"])
    (freshness,) = by_type["expect_column_max_to_be_between"]
    assert freshness["severity"] == "warning" and freshness["kwargs"]["min_value"] == {"$PARAMETER": "min_newest_month"}


def test_freshness_parameters() -> None:
    assert gx.freshness_parameters(date(2024, 11, 5)) == {
        "min_newest_day": "2024-10-29",
        "min_newest_month": "2024-10-01",
    }


def test_runtime_environment_points_at_the_project_warehouse(manifest) -> None:
    from orchestration.core.settings import connection

    env = gx.runtime_environment(manifest=manifest)
    url = env["FUNNEL_GX_WAREHOUSE_URL"]
    assert url.startswith(connection().url() + "?options=-csearch_path%3D")
    assert "dev_marts" in url
    assert env["FUNNEL_GX_DOCS_DIR"].endswith("/gx_docs/")


def _outcome(*failures: tuple[str, str]) -> gx.CheckpointOutcome:
    ok = gx.ExpectationOutcome("expect_table_row_count_to_be_between", None, "critical", True, "121")
    failed = [
        gx.ExpectationOutcome(kind, "month", severity, False, "2024-06-01", sample=[{"month": "2024-06-01"}])
        for kind, severity in failures
    ]
    return gx.CheckpointOutcome("rep_sales_funnel_monthly", date(2024, 11, 10), [ok, *failed])


def test_check_results_pass_warn_and_error() -> None:
    from orchestration.dagster.checks import result_for

    passed = result_for(_outcome())
    assert passed.passed and passed.metadata["failed"].value == 0
    stale = result_for(_outcome(("expect_column_max_to_be_between", "warning")))
    assert not stale.passed and stale.severity == AssetCheckSeverity.WARN
    broken = result_for(
        _outcome(("expect_column_max_to_be_between", "warning"), ("unexpected_rows_expectation", "critical"))
    )
    assert not broken.passed and broken.severity == AssetCheckSeverity.ERROR
    failed, sample = broken.metadata["failed_expectations"].value, broken.metadata["sample"].value
    assert isinstance(failed, str) and "unexpected_rows_expectation" in failed
    assert isinstance(sample, dict) and sample["rows"] == [{"month": "2024-06-01"}]


def test_checks_judge_freshness_as_of_the_runs_last_partition() -> None:
    from orchestration.dagster.checks import as_of_for_run

    assert as_of_for_run({"dagster/partition": "2024-05-01"}) == date(2024, 5, 1)
    tags = {"dagster/asset_partition_range_start": "2024-05-01", "dagster/asset_partition_range_end": "2024-05-10"}
    assert as_of_for_run(tags) == date(2024, 5, 10)
    assert as_of_for_run({}) is None


def test_cli_summary_text() -> None:
    from orchestration.cli.ui import GxSummary

    summary = GxSummary(
        [_outcome(), _outcome(("unexpected_rows_expectation", "critical"))], Path("/x/gx_docs/index.html")
    )
    assert not summary.ok
    text = summary.text()
    assert "OK" in text and "FAILED" in text and "unexpected_rows_expectation on month" in text
    assert text.endswith("Data Docs: /x/gx_docs/index.html")
    assert GxSummary([_outcome(("expect_column_max_to_be_between", "warning"))], Path("d")).ok
