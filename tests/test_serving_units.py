"""The serving layer's pure parts, without a warehouse: the KPI catalogue files, the MetricFlow glue, the export
helpers and the input checks that run before anything connects."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from orchestration.core.errors import FunnelError
from orchestration.core.settings import DBT_PROJECT_DIR
from orchestration.serving import exports, kpis

SEMANTIC = DBT_PROJECT_DIR / "models" / "semantic"
MODULES = {"BUS_DEV", "INSIDE_SALES", "SALES_MGMT", "MARKETING", "CUSTOMER", "FINANCE", "OPERATIONS"}


def semantic_files() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(SEMANTIC.rglob("*.yml"))]


def docs_blocks() -> set[str]:
    names: set[str] = set()
    for path in SEMANTIC.rglob("*.md"):
        names |= set(re.findall(r"{%\s*docs\s+(\w+)\s*%}", path.read_text()))
    return names


def test_catalogue_has_at_least_40_kpis_each_with_modules_object_model_and_definition() -> None:
    metrics = [m for f in semantic_files() for m in f.get("metrics", [])]
    names = [m["name"] for m in metrics]
    assert len(names) == len(set(names)), "metric names are unique"
    kpis = [m for m in metrics if not m["config"]["meta"].get("helper")]
    assert len(kpis) >= 40
    blocks = docs_blocks()
    for metric in metrics:
        meta = metric["config"]["meta"]
        assert meta["modules"] and set(meta["modules"]) <= MODULES, metric["name"]
        assert meta["object_model"], metric["name"]
        assert metric["description"] == "{{ doc('metric_" + metric["name"] + "') }}", metric["name"]
        assert f"metric_{metric['name']}" in blocks, f"no docs block for {metric['name']}"
    sales = {"BUS_DEV", "INSIDE_SALES", "SALES_MGMT"}
    assert sum(1 for m in kpis if sales & set(m["config"]["meta"]["modules"])) >= 40
    assert sum(1 for m in kpis if "CUSTOMER" in m["config"]["meta"]["modules"]) >= 8


def test_semantic_models_read_marts_and_have_time_dimensions() -> None:
    models = [s for f in semantic_files() for s in f.get("semantic_models", [])]
    assert len(models) >= 15
    for model in models:
        assert re.fullmatch(r"ref\('\w+'\)", model["model"]), model["name"]
        if model.get("measures"):
            agg_time = model["defaults"]["agg_time_dimension"]
            assert any(d["name"] == agg_time and d["type"] == "time" for d in model["dimensions"]), model["name"]
    spine = next(m for f in semantic_files() for m in f.get("models", []) if m["name"] == "metricflow_time_spine")
    assert spine["time_spine"]["standard_granularity_column"] == "date_day"


def test_group_by_and_where_sugar() -> None:
    assert kpis._group_by(["month", "region,lead_source__channel"]) == [
        "metric_time__month",
        "region",
        "lead_source__channel",
    ]
    engine = SimpleNamespace(
        simple_dimensions_for_metrics=lambda _m: [
            SimpleNamespace(dunder_name="lead_source__channel", type=SimpleNamespace(value="CATEGORICAL")),
            SimpleNamespace(dunder_name="job__job_date", type=SimpleNamespace(value="TIME")),
        ],
        entities_for_metrics=lambda _m: [SimpleNamespace(name="region")],
    )
    where = kpis._where(engine, "revenue", "region = 'eu' and lead_source__channel <> 'region' or x = 1")
    assert where == ("{{ Entity('region') }} = 'eu' and {{ Dimension('lead_source__channel') }} <> 'region' or x = 1")
    assert kpis._where(engine, "revenue", "metric_time__month >= '2024-01-01'") == (
        "{{ TimeDimension('metric_time', 'month') }} >= '2024-01-01'"
    )
    assert kpis._where(engine, "revenue", "job__job_date < '2024-01-01'") == (
        "{{ TimeDimension('job__job_date', 'day') }} < '2024-01-01'"
    )
    raw = "{{ Dimension('lead_source__channel') }} = 'x'"
    assert kpis._where(engine, "revenue", raw) == raw


def test_relocated_manifest_drops_the_parse_time_database() -> None:
    relation = {"alias": "fct_jobs", "schema_name": "dev_marts", "database": "funnel", "relation_name": "x"}
    manifest: dict[str, Any] = {
        "semantic_models": [{"node_relation": dict(relation)}],
        "project_configuration": {"time_spines": [{"node_relation": dict(relation, alias="spine")}]},
    }
    out = kpis._relocated(manifest)
    assert out["semantic_models"][0]["node_relation"]["relation_name"] == '"dev_marts"."fct_jobs"'
    assert out["project_configuration"]["time_spines"][0]["node_relation"]["database"] is None
    assert manifest["semantic_models"][0]["node_relation"]["database"] == "funnel", "the input is not changed"


def test_csv_record_counting_ignores_newlines_inside_quotes() -> None:
    text = b'id,note\n1,"two\nlines"\n2,"a ""quoted"" word"\n3,plain\n'
    assert exports._csv_records(text, False) == (4, False)
    total, in_quote = 0, False
    for i in range(0, len(text), 3):  # any chunking gives the same count
        n, in_quote = exports._csv_records(text[i : i + 3], in_quote)
        total += n
    assert (total, in_quote) == (4, False)


def test_marts_schema_follows_generate_schema_name(monkeypatch) -> None:
    monkeypatch.delenv("FUNNEL_DB_SCHEMA", raising=False)
    monkeypatch.delenv("FUNNEL_TARGET", raising=False)
    assert exports.marts_schema() == "dev_marts"
    assert exports.marts_schema("ci") == "ci_marts"
    assert exports.marts_schema("prod") == "marts"
    monkeypatch.setenv("FUNNEL_DB_SCHEMA", "alice")
    assert exports.marts_schema() == "alice_marts"


def test_hashing_writer_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    writer = exports._HashingWriter(target)
    writer.write(b"abc")
    assert not target.exists() and writer.part.exists()
    writer.abort()
    assert not writer.part.exists() and not target.exists()
    writer = exports._HashingWriter(target)
    writer.write(b"abc")
    assert writer.commit() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert target.read_bytes() == b"abc"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "fct_jobs", "fmt": "xml"}, "unknown export format 'xml'"),
        ({"model": "fct_jobs; drop table x", "fmt": "csv"}, "is not a model name"),
        ({"model": "fct_jobs", "fmt": "csv", "start": "2024-13-01"}, "start='2024-13-01' is not a date"),
        ({"model": "fct_jobs", "fmt": "csv", "end": "2024-01-01'; --"}, "is not a date"),
        ({"model": "fct_jobs", "fmt": "csv", "start": "2024-02-01", "end": "2024-01-01"}, "is after end"),
    ],
)
def test_export_checks_its_input_before_connecting(kwargs, message, tmp_path) -> None:
    with pytest.raises(FunnelError, match=re.escape(message)):
        exports.export_model(**kwargs, out=tmp_path)
