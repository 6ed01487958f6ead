"""The KPI catalogue on the semantic layer: KPIs are MetricFlow metrics (dbt_project/models/semantic/). MetricFlow
compiles a KPI query to Postgres SQL from the semantic manifest dbt writes; the SQL runs on the connection
orchestration.core.settings names."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg

from orchestration.core.dbt import parse_source_dt, run_dbt
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import target_path
from orchestration.core.settings import Connection
from orchestration.core.warehouse import connect

GRAINS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    description: str
    type: str
    modules: tuple[str, ...]
    object_model: str


@dataclass
class KpiAnswer:
    kpi: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str


def semantic_manifest(path: Path | None = None, *, parse: bool = True) -> dict[str, Any]:
    """The semantic manifest dbt writes on parse; runs `dbt parse` first when there is none yet."""
    file = (path or target_path().resolve()) / "semantic_manifest.json"
    if not file.exists() and parse:
        result = run_dbt(["parse"], capture=True)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise FunnelError("dbt parse failed: " + " | ".join(tail), "fix the project, then retry")
    if not file.exists():
        raise FunnelError(f"no semantic manifest at {file}", "run `dbt parse` (or funnel build) first")
    return json.loads(file.read_text())


def list_kpis(
    module: str | None = None, manifest: dict[str, Any] | None = None, *, include_helpers: bool = False
) -> list[Kpi]:
    """The KPI registry: every metric with the business modules it serves and the entity it measures.

    Helper metrics (`meta.helper`: inputs of ratios, not KPIs of their own) are left out unless asked for.
    """
    manifest = manifest or semantic_manifest()
    kpis = []
    for metric in manifest["metrics"]:
        meta = (metric.get("config") or {}).get("meta") or {}
        if meta.get("helper") and not include_helpers:
            continue
        modules = tuple(str(m) for m in meta.get("modules", ()))
        if module and module.upper() not in modules:
            continue
        kpis.append(
            Kpi(
                name=metric["name"],
                label=metric.get("label") or metric["name"],
                description=" ".join((metric.get("description") or "").split()),
                type=metric["type"],
                modules=modules,
                object_model=str(meta.get("object_model", "")),
            )
        )
    if module and not kpis:
        known = sorted({m for k in list_kpis(manifest=manifest) for m in k.modules})
        raise FunnelError(f"no KPI serves module {module!r}", f"modules: {', '.join(known)}")
    return sorted(kpis, key=lambda k: k.name)


class _PostgresCompiler:
    """The SqlClient MetricFlow needs to render Postgres SQL; executing happens on our own connection."""

    def __init__(self) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer

        self.sql_engine_type = SqlEngine.POSTGRES
        self.sql_plan_renderer = PostgresSQLSqlPlanRenderer()

    def _unused(self, *args: object, **kwargs: object) -> Any:
        raise NotImplementedError("serving runs MetricFlow's SQL itself")

    query = execute = dry_run = _unused

    def close(self) -> None:
        pass

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"%({bind_parameter_key})s"


def _relocated(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without database names: relations resolve in the database we are connected to.

    dbt writes `"<database>"."<schema>"."<table>"` as of its parse; Postgres refuses cross-database names, and
    settings.py (not the parse) decides which database is queried.
    """
    out = json.loads(json.dumps(manifest))
    config = out.get("project_configuration") or {}
    relations = [m["node_relation"] for m in out["semantic_models"]]
    relations += [s["node_relation"] for s in config.get("time_spines", [])]
    for relation in relations:
        relation["database"] = None
        relation["relation_name"] = f'"{relation["schema_name"]}"."{relation["alias"]}"'
    return out


@cache
def _engine(manifest_text: str) -> Any:
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    manifest = parse_manifest_from_dbt_generated_manifest(manifest_text)
    return MetricFlowEngine(
        semantic_manifest_lookup=SemanticManifestLookup(manifest),
        sql_client=_PostgresCompiler(),
    )


def _group_by(by: Sequence[str]) -> list[str]:
    names = []
    for item in by:
        for part in (p.strip() for p in item.split(",")):
            if part:
                names.append(f"metric_time__{part}" if part in GRAINS else part)
    return names


def _where(engine: Any, kpi: str, where: str) -> str:
    """MetricFlow where syntax; bare names (`region = 'eu'`, `lead_source__channel = 'online'`,
    `metric_time__month >= '2024-06-01'`) are wrapped in Dimension / TimeDimension / Entity for convenience."""
    if "{{" in where:
        return where
    dims = {d.dunder_name: d for d in engine.simple_dimensions_for_metrics([kpi])}
    entities = {e.name for e in engine.entities_for_metrics([kpi])}

    def wrap(match: re.Match[str]) -> str:
        name = match.group(0)
        if name == "metric_time" or name.startswith("metric_time__"):
            grain = name.split("__", 1)[1] if "__" in name else "day"
            return f"{{{{ TimeDimension('metric_time', '{grain}') }}}}"
        if name in dims:
            if str(getattr(dims[name].type, "value", dims[name].type)).lower() == "time":
                return f"{{{{ TimeDimension('{name}', 'day') }}}}"
            return f"{{{{ Dimension('{name}') }}}}"
        if name in entities:
            return f"{{{{ Entity('{name}') }}}}"
        return name

    # only outside quoted literals
    parts = re.split(r"('(?:[^']|'')*')", where)
    return "".join(p if p.startswith("'") else re.sub(r"\b[a-z_][a-z0-9_]*\b", wrap, p) for p in parts)


def query_kpi(
    kpi: str,
    by: Sequence[str] = ("month",),
    where: Sequence[str] | str = (),
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    conn: Connection | None = None,
    manifest: dict[str, Any] | None = None,
    limit: int | None = None,
) -> KpiAnswer:
    """Answer one KPI from the semantic layer, grouped by grains (day..year) and/or dimensions."""
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    manifest = manifest or semantic_manifest()
    known = {m["name"] for m in manifest["metrics"]}
    if kpi not in known:
        close = [k for k in sorted(known) if kpi.split("_")[0] in k][:8]
        raise FunnelError(
            f"unknown KPI {kpi!r}", "see `funnel kpi list`" + (f"; similar: {', '.join(close)}" if close else "")
        )
    engine = _engine(json.dumps(_relocated(manifest), sort_keys=True))
    wheres = [where] if isinstance(where, str) else list(where)

    def as_datetime(value: str | date | None, name: str) -> datetime | None:
        if value is None:
            return None
        day = value if isinstance(value, date) else parse_source_dt(value, name)
        return datetime(day.year, day.month, day.day)

    try:
        request = MetricFlowQueryRequest.create(
            metric_names=[kpi],
            group_by_names=_group_by(by) or None,
            where_constraints=[_where(engine, kpi, w) for w in wheres if w.strip()] or None,
            time_constraint_start=as_datetime(start, "start"),
            time_constraint_end=as_datetime(end, "end"),
            order_by_names=_group_by(by) or None,
            limit=limit,
        )
        statement = engine.explain(request).sql_statement
    except FunnelError:
        raise
    except Exception as exc:  # MetricFlow's own errors name the bad group-by or filter
        message = " ".join(str(exc).split())[:600]
        raise FunnelError(
            f"MetricFlow cannot answer {kpi}: {message}", "see `funnel kpi list` for dimensions"
        ) from None
    params = {p.key: p.value.union_value() for p in statement.bind_parameter_set.param_items}
    try:
        with connect(conn) as db, db.cursor() as cur:
            cur.execute(statement.sql, params or None)
            columns = [d.name for d in cur.description or ()]
            rows = cur.fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise FunnelError(f"{kpi}: {str(exc).splitlines()[0]}", "build the marts first: funnel build") from None
    except psycopg.Error as exc:
        raise FunnelError(
            f"{kpi}: the database refused the query: {str(exc).splitlines()[0]}", "check --where"
        ) from None
    return KpiAnswer(kpi, columns, [tuple(_plain(v) for v in r) for r in rows], statement.sql)


def _plain(value: Any) -> Any:
    """MetricFlow truncates dates with date_trunc, which returns midnight timestamps: give back dates."""
    if isinstance(value, datetime) and (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return value.date()
    return value
