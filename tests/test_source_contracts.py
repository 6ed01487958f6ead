"""The source contract is declared once (dbt sources YAML); the loader, dbt and the staging models must agree with it.

Built once per module: small generated exports of both sources are loaded and the base models built with the real
dbt project. Then, against the real files, the real raw tables and the real manifest (no mocks):
  * the loader's table list (orchestration.sources) is the YAML's, in file order, and the raw tables it creates
    hold exactly the YAML's columns (data columns, then the loader columns declared once per source);
  * every column's meta uses the documented vocabulary, and key / event-date columns exist;
  * every contract column reaches its base model under its staged name (plus the derived columns its meta
    promises: name keys, unreadable amounts, event days).
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from orchestration.core.contracts import RECONCILIATION_MODELS, SOURCES, raw_schema, source_declaration
from orchestration.core.settings import DBT_PROJECT_DIR, REPO_ROOT
from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.pipedrive import generate_pipedrive

TYPES = {"text", "integer", "number", "boolean", "date", "timestamp", "email", "phone", "json"}
FOLDS = {"person", "place", "status"}
COLUMN_META = {"type", "required", "fold", "staged_as", "pii"}
DEDUPE = {"latest_version", "exact_copies"}
TABLE_META = {"staging", "key", "key_label", "event_date", "dedupe", "lookup"}
BASE_MODEL = {"pipedrive": "base_pipedrive__{}", "field_crm": "base_field_crm__{}"}
# Pipedrive's base models are named for what a row is, not for the file.
PIPEDRIVE_BASE = {"activity": "activities"}
END = date(2025, 6, 30)


def _base_model(source: str, table: str) -> str:
    return BASE_MODEL[source].format(PIPEDRIVE_BASE.get(table, table) if source == "pipedrive" else table)


@pytest.fixture(scope="module")
def built(wh, tmp_path_factory):
    """The module's warehouse with both sources loaded and every staging model built; the manifest dbt wrote."""
    tmp = tmp_path_factory.mktemp("exports")
    generate_pipedrive(tmp / "pipedrive", deals=150, seed=3, end=END, days=90)
    generate_field_crm(tmp / "field_crm", leads=200, seed=3, end=END, days=90)
    wh.load(tmp / "pipedrive", "pipedrive")
    wh.load(tmp / "field_crm", "field_crm")
    wh.dbt("seed", variables={"source_dt": END.isoformat()})
    wh.dbt("run", "--select", "staging", variables={"source_dt": END.isoformat()})
    target = Path(os.environ.get("DBT_TARGET_PATH", DBT_PROJECT_DIR / "target"))
    return wh, json.loads((target / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("source", list(SOURCES))
def test_loader_reads_the_yaml_contract(source: str) -> None:
    declared = source_declaration(source)
    yaml_tables = [
        (t["name"], tuple(c["name"] for c in t["columns"] if not c["name"].startswith("_"))) for t in declared["tables"]
    ]
    assert [(t.name, t.columns) for t in SOURCES[source]] == yaml_tables
    # every table lists the loader columns, each a reference to the one declaration of the source
    loader = declared["config"]["meta"]["loader_columns"]
    for table in declared["tables"]:
        assert [c for c in table["columns"] if c["name"].startswith("_")] == loader, table["name"]


@pytest.mark.parametrize("source", list(SOURCES))
def test_raw_tables_hold_the_contract_columns(built, source: str) -> None:
    wh, _ = built
    loader = [c["name"] for c in source_declaration(source)["config"]["meta"]["loader_columns"]]
    for table in SOURCES[source]:
        landed = [
            r[0]
            for r in wh.query(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (raw_schema(source), table.name),
            )
        ]
        assert landed == [*table.columns, *loader], table.name


@pytest.mark.parametrize("source", list(SOURCES))
def test_contract_meta_is_well_formed(built, source: str) -> None:
    _, manifest = built
    for table in SOURCES[source]:
        node = manifest["sources"][f"source.funnel.{source}.{table.name}"]
        assert [c for c in node["columns"] if not c.startswith("_")] == list(table.columns), table.name
        for name in table.columns:
            meta = node["columns"][name]["meta"]
            assert set(meta) <= COLUMN_META, (table.name, name, meta)
            assert meta["type"] in TYPES, (table.name, name)
            assert isinstance(meta["pii"], bool), (table.name, name)
            assert meta.get("fold", "person") in FOLDS, (table.name, name)
        contract = node["meta"]["contract"]
        assert set(contract) <= TABLE_META, (table.name, contract)
        assert contract["dedupe"] in DEDUPE, table.name
        assert contract["key"] and set(contract["key"]) <= set(table.columns), table.name
        assert contract.get("event_date", table.columns[0]) in table.columns, table.name


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_reconciliation_model_counts_every_contract_table(built, source: str) -> None:
    """The model `funnel reconcile` reads (source meta `reconciliation`) counts every raw table of the contract."""
    wh, manifest = built
    node = manifest["nodes"][f"model.funnel.{RECONCILIATION_MODELS[source]}"]
    counted = {n.rsplit(".", 1)[1] for n in node["depends_on"]["nodes"] if n.startswith(f"source.funnel.{source}.")}
    assert counted == {table.name for table in SOURCES[source]}
    reconciled = wh.query(f"select distinct source_table, is_reconciled from {node['schema']}.{node['name']}")
    assert sorted(reconciled) == sorted((table.name, True) for table in SOURCES[source])


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_contract_column_reaches_its_base_model(built, source: str) -> None:
    wh, _ = built
    for table in SOURCES[source]:
        model = _base_model(source, table.name)
        staged = {
            r[0]
            for r in wh.query(
                "select column_name from information_schema.columns"
                " where table_schema = 'dev_staging' and table_name = %s",
                (model,),
            )
        }
        assert staged, f"{model} not built"
        expected = {"raw_values", "_source_file", "_source_line", "_load_id", "_loaded_at"}
        for name in table.columns:
            meta = table.column_meta[name]
            expected.add(meta.get("staged_as", name))
            if source == "field_crm":
                if meta.get("fold") in ("person", "place"):
                    expected.add(f"{name}_name_key")
                if meta["type"] == "number":
                    expected.add(f"unreadable_{name}")
        event = table.meta.get("event_date")
        if source == "field_crm" and event and table.column_meta[event]["type"] == "timestamp":
            expected.add(event.removesuffix("_at") + "_date")
        assert expected <= staged, (model, sorted(expected - staged))
        # the raw values a row keeps name exactly the contract's columns
        keys = wh.scalar(f"select array_agg(distinct k) from dev_staging.{model}, jsonb_object_keys(raw_values) as k")
        assert sorted(keys or []) == sorted(table.columns), model


def test_unit_test_contracts_are_the_yaml_contract() -> None:
    """dbt unit tests see no graph, so a base model's unit test gives its table's contract: it must be the YAML's."""
    models = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/field_crm/_field_crm__models.yml").read_text("utf-8"))
    tables = {t.name: t for t in SOURCES["field_crm"]}
    given = [u for u in models["unit_tests"] if "source_contract" in u.get("overrides", {}).get("vars", {})]
    assert given, "no unit test gives a source contract"
    for unit_test in given:
        table = tables[unit_test["model"].removeprefix("base_field_crm__")]
        contract = unit_test["overrides"]["vars"]["source_contract"]
        assert list(contract["columns"].items()) == list(table.column_meta.items()), unit_test["name"]
        assert contract["contract"] == table.meta, unit_test["name"]


def _readme_contract_tables() -> dict[str, dict[str, list[str]]]:
    """The README's "Source contracts" tables: per source, file name -> the columns it lists."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Source contracts", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, dict[str, list[str]]] = {}
    source = None
    for line in section.splitlines():
        heading = re.match(r"\*\*(\w+)\*\* —", line)
        if heading:
            source = heading.group(1)
            tables[source] = {}
        row = re.match(r"\| `(\w+)\.csv` \| `([^`]+)`", line)
        if row and source:
            tables[source][row.group(1)] = [c.strip() for c in row.group(2).split(",")]
    return tables


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_readme_lists_the_contract_columns(source: str) -> None:
    """The README's table of each source's files is the contract's, column for column (case as in the export)."""
    listed = _readme_contract_tables()[source]
    assert {name: [c.lower() for c in columns] for name, columns in listed.items()} == {
        table.name: list(table.columns) for table in SOURCES[source]
    }
