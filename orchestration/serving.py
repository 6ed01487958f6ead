"""The serving layer: read-only roles, streaming exports of marts, and the KPI catalogue on the semantic layer.

- Roles: `bi_reader` (marts only) and `analyst` (intermediate, quality + marts) are created here, with passwords from
  environment variables. What they may read is dbt's `grants` config (dbt_project.yml), applied by dbt on every
  build; macros/grants/ skips roles a server does not have yet and grants USAGE on the schemas it grants in.
- Exports stream one mart, filtered by a date window and a region, to csv, json (JSON Lines) or parquet with
  bounded memory: COPY for csv, a server-side cursor for the others.
- KPIs are MetricFlow metrics (dbt_project/models/semantic/). MetricFlow compiles a KPI query to Postgres SQL
  from the semantic manifest dbt writes; the SQL runs on the connection settings.py names.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestration.dbt import dbt_env, parse_source_dt, run_dbt
from orchestration.dbt import target_path as dbt_target_path
from orchestration.errors import FunnelError
from orchestration.settings import Connection, connection
from orchestration.warehouse import connect

Progress = Callable[[int], None]

# ---------------------------------------------------------------------------------------------------------------
# Roles


@dataclass(frozen=True)
class Role:
    name: str
    password_env: str
    layers: tuple[str, ...]
    purpose: str


ROLES: tuple[Role, ...] = (
    Role("bi_reader", "FUNNEL_BI_READER_PASSWORD", ("marts",), "BI tools: SELECT on the marts only"),
    Role(
        "analyst",
        "FUNNEL_ANALYST_PASSWORD",
        ("intermediate", "quality", "marts"),
        "analysts: SELECT on intermediate, quality + marts",
    ),
)


@dataclass(frozen=True)
class RoleResult:
    name: str
    created: bool
    password_set: bool
    can_login: bool


def create_roles(conn: Connection | None = None, roles: Sequence[Role] = ROLES) -> list[RoleResult]:
    """Create the serving roles if missing (idempotent), on the embedded or an external server.

    A role whose password variable is set can log in with that password (sent as a SCRAM verifier, never in
    clear); without it a new role is NOLOGIN and an existing role keeps its password. Every role defaults to
    read-only transactions on top of having SELECT grants only.
    """
    conn = conn or connection()
    results: list[RoleResult] = []
    with connect(conn, autocommit=True) as db:
        for role in roles:
            ident = sql.Identifier(role.name)
            password = os.environ.get(role.password_env, "")
            try:
                created = db.execute("select 1 from pg_roles where rolname = %s", (role.name,)).fetchone() is None
                if created:
                    db.execute(sql.SQL("create role {} nologin nosuperuser nocreatedb nocreaterole").format(ident))
                if password:
                    verifier = db.pgconn.encrypt_password(password.encode(), role.name.encode(), b"scram-sha-256")
                    db.execute(sql.SQL("alter role {} login password {}").format(ident, sql.Literal(verifier.decode())))
                db.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(ident))
                db.execute(sql.SQL("comment on role {} is {}").format(ident, sql.Literal(role.purpose)))
                db.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(conn.dbname), ident))
                row = db.execute("select rolcanlogin from pg_roles where rolname = %s", (role.name,)).fetchone()
            except psycopg.errors.InsufficientPrivilege as exc:
                raise FunnelError(
                    f"{conn.user} may not create or alter role {role.name} on {conn.host}:{conn.port}: "
                    f"{str(exc).splitlines()[0]}",
                    "run `funnel db roles` once as a user with CREATEROLE (or a superuser)",
                ) from None
            results.append(RoleResult(role.name, created, bool(password), bool(row and row[0])))
    return results


def apply_grants(
    target: str | None = None, conn: Connection | None = None, variables: dict[str, object] | None = None
) -> None:
    """Re-apply the project's grants config to relations that already exist (after creating roles late)."""
    result = run_dbt(["run-operation", "apply_configured_grants"], variables, conn=conn, target=target, capture=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise FunnelError("applying the grants failed: " + " | ".join(tail), "run `funnel build` to create the marts")


# ---------------------------------------------------------------------------------------------------------------
# Exports

FORMATS = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}
DATE_TYPES = ("date", "timestamp with time zone", "timestamp without time zone")


def marts_schema(target: str | None = None) -> str:
    """The schema the marts are built in, as macros/generate_schema_name.sql names it."""
    env = dbt_env(target=target)
    name = env.get("FUNNEL_TARGET", "dev")
    if name == "prod":
        return "marts"
    return f"{env.get('FUNNEL_DB_SCHEMA') or name}_marts"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    precision: int | None
    scale: int | None


@dataclass
class ExportResult:
    model: str
    fmt: str
    path: Path
    rows: int
    sha256: str
    columns: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)


def mart_columns(db: psycopg.Connection, schema: str, model: str) -> list[Column]:
    rows = db.execute(
        """
        select column_name, data_type, numeric_precision, numeric_scale
        from information_schema.columns
        where table_schema = %s and table_name = %s
        order by ordinal_position
        """,
        (schema, model),
    ).fetchall()
    if not rows:
        marts = [
            r[0]
            for r in db.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1", (schema,)
            ).fetchall()
        ]
        raise FunnelError(
            f"no mart named {model!r} in schema {schema}",
            f"marts: {', '.join(marts)}" if marts else "build the marts first: funnel build",
        )
    return [Column(r[0], r[1], r[2], r[3]) for r in rows]


def _date_column(columns: list[Column], wanted: str | None) -> Column | None:
    if wanted:
        for col in columns:
            if col.name == wanted:
                if col.data_type not in DATE_TYPES:
                    raise FunnelError(f"column {wanted!r} is {col.data_type}, not a date", "pick a date column")
                return col
        raise FunnelError(f"no column {wanted!r}", f"columns: {', '.join(c.name for c in columns)}")
    for kind in DATE_TYPES:
        for col in columns:
            if col.data_type == kind:
                return col
    return None


def _export_query(
    model: str,
    schema: str,
    columns: list[Column],
    start: date | None,
    end: date | None,
    region: str | None,
    date_column: str | None,
) -> tuple[sql.Composed, dict[str, str]]:
    """`select ... where <window and region> order by <every column>`, values inlined as quoted literals."""
    filters: dict[str, str] = {}
    where: list[sql.Composable] = []
    if start or end:
        col = _date_column(columns, date_column)
        if col is None:
            raise FunnelError(f"{model} has no date column to filter on", "export it without --start/--end")
        filters["date_column"] = col.name
        if start:
            where.append(sql.SQL("{} >= {}").format(sql.Identifier(col.name), sql.Literal(start)))
            filters["start"] = start.isoformat()
        if end:
            # half-open: the whole end day is in, whatever the column's type
            where.append(sql.SQL("{} < {}").format(sql.Identifier(col.name), sql.Literal(end + timedelta(days=1))))
            filters["end"] = end.isoformat()
    if region is not None:
        if "region" not in {c.name for c in columns}:
            raise FunnelError(f"{model} has no region column", "export it without --region")
        where.append(sql.SQL("region = {}").format(sql.Literal(region)))
        filters["region"] = region
    query = sql.SQL("select * from {} as t").format(sql.Identifier(schema, model))
    if where:
        query += sql.SQL(" where ") + sql.SQL(" and ").join(where)
    query += sql.SQL(" order by ") + sql.SQL(", ").join(sql.Identifier("t", c.name) for c in columns)
    return query, filters


class _HashingWriter(io.RawIOBase):
    """A binary file that hashes what it writes; written to `<path>.part` and renamed on success."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.file = self.part.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += len(view)
        return self.file.write(view)

    def tell(self) -> int:
        return self.size

    def commit(self) -> str:
        self.file.close()
        os.replace(self.part, self.path)
        return self.digest.hexdigest()

    def abort(self) -> None:
        self.file.close()
        self.part.unlink(missing_ok=True)


def _csv_records(chunk: bytes, in_quote: bool) -> tuple[int, bool]:
    """Records ended in a chunk of CSV (newlines outside quotes) and whether the chunk ends inside a quote."""
    count = 0
    for i, part in enumerate(chunk.split(b'"')):
        if i:
            in_quote = not in_quote
        if not in_quote:
            count += part.count(b"\n")
    return count, in_quote


def _write_csv(db: psycopg.Connection, query: sql.Composed, out: _HashingWriter, progress: Progress) -> int:
    records, in_quote, reported = 0, False, 0
    copy_sql = sql.SQL("copy ({}) to stdout with (format csv, header)").format(query)
    with db.cursor() as cur, cur.copy(copy_sql) as copy:
        for chunk in copy:
            out.write(chunk)
            n, in_quote = _csv_records(bytes(chunk), in_quote)
            records += n
            if records - reported >= 10_000:
                reported = records
                progress(max(records - 1, 0))
    return max(records - 1, 0)  # minus the header


def _batches(db: psycopg.Connection, query: sql.Composed, batch_rows: int) -> Iterator[list[tuple[Any, ...]]]:
    with db.cursor(name="funnel_export") as cur:
        cur.itersize = batch_rows
        cur.execute(query)
        while rows := cur.fetchmany(batch_rows):
            yield rows


def _write_json(
    db: psycopg.Connection, query: sql.Composed, out: _HashingWriter, progress: Progress, batch_rows: int
) -> int:
    """JSON Lines, one object per row, rendered by Postgres (row_to_json keeps column order and exact numbers)."""
    rows = 0
    lines = sql.SQL("select row_to_json(j)::text from ({}) as j").format(query)
    for batch in _batches(db, lines, batch_rows):
        out.write(("\n".join(r[0] for r in batch) + "\n").encode())
        rows += len(batch)
        progress(rows)
    return rows


def _arrow_schema(db: psycopg.Connection, query: sql.Composed, columns: list[Column]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

    # Unconstrained numeric columns get the smallest decimal that holds every exported value exactly.
    loose = [c for c in columns if c.data_type == "numeric" and c.precision is None]
    scales: dict[str, tuple[int, int]] = {}
    if loose:
        probes = sql.SQL(", ").join(
            sql.SQL("coalesce(max(scale({c})), 0), coalesce(max(length(trunc(abs({c}))::text)), 1)").format(
                c=sql.Identifier(c.name)
            )
            for c in loose
        )
        row = db.execute(sql.SQL("select {} from ({}) as s").format(probes, query)).fetchone()
        assert row is not None
        for i, col in enumerate(loose):
            scales[col.name] = (int(row[2 * i]), int(row[2 * i + 1]))

    def arrow_type(col: Column) -> Any:
        simple = {
            "smallint": pa.int16(),
            "integer": pa.int32(),
            "bigint": pa.int64(),
            "real": pa.float32(),
            "double precision": pa.float64(),
            "boolean": pa.bool_(),
            "date": pa.date32(),
            "timestamp with time zone": pa.timestamp("us", tz="UTC"),
            "timestamp without time zone": pa.timestamp("us"),
        }
        if col.data_type in simple:
            return simple[col.data_type]
        if col.data_type == "numeric":
            if col.precision is not None:
                return pa.decimal128(col.precision, col.scale or 0)
            scale, digits = scales[col.name]
            if scale + digits > 38:
                return pa.string()
            return pa.decimal128(max(scale + digits, 1), scale)
        return pa.string()

    return pa.schema([pa.field(c.name, arrow_type(c)) for c in columns])


def _write_parquet(
    db: psycopg.Connection,
    query: sql.Composed,
    columns: list[Column],
    out: _HashingWriter,
    progress: Progress,
    batch_rows: int,
) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise FunnelError("parquet export needs pyarrow", "pip install pyarrow, or export csv/json") from None
    schema = _arrow_schema(db, query, columns)
    as_text = [
        pa.types.is_string(f.type) and c.data_type not in ("text", "character varying")
        for f, c in zip(schema, columns, strict=True)
    ]
    rows = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in _batches(db, query, batch_rows):
            arrays = []
            for i, f in enumerate(schema):
                values = [r[i] for r in batch]
                if as_text[i]:
                    values = [None if v is None else str(v) for v in values]
                arrays.append(pa.array(values, type=f.type))
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            rows += len(batch)
            progress(rows)
    return rows


def export_model(
    model: str,
    fmt: str,
    start: str | date | None = None,
    end: str | date | None = None,
    region: str | None = None,
    out: Path | str = Path("."),
    progress: Progress | None = None,
    *,
    conn: Connection | None = None,
    schema: str | None = None,
    date_column: str | None = None,
    batch_rows: int = 10_000,
) -> ExportResult:
    """Stream one mart to a file, filtered to [start, end] (inclusive days) on its date column and a region.

    Rows come out ordered by every column, so the same data gives the same file (and sha256). Memory stays
    bounded by one batch whatever the mart's size. `out` is a file, or a folder to write `<model>.<ext>` in.
    """
    if fmt not in FORMATS:
        raise FunnelError(f"unknown export format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", model):
        raise FunnelError(f"{model!r} is not a model name", "e.g. rep_sales_funnel_monthly")
    first = start if isinstance(start, date) or start is None else parse_source_dt(start, "start")
    last = end if isinstance(end, date) or end is None else parse_source_dt(end, "end")
    if first and last and first > last:
        raise FunnelError(f"start {first} is after end {last}", "swap them")
    schema = schema or marts_schema()
    path = Path(out)
    if path.is_dir() or not path.suffix:
        path = path / f"{model}{FORMATS[fmt]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _rows: None)
    with connect(conn) as db:
        db.execute("set local timezone = 'UTC'")
        columns = mart_columns(db, schema, model)
        query, filters = _export_query(model, schema, columns, first, last, region, date_column)
        writer = _HashingWriter(path)
        try:
            if fmt == "csv":
                rows = _write_csv(db, query, writer, report)
            elif fmt == "json":
                rows = _write_json(db, query, writer, report, batch_rows)
            else:
                rows = _write_parquet(db, query, columns, writer, report, batch_rows)
        except BaseException:
            writer.abort()
            raise
        digest = writer.commit()
    report(rows)
    return ExportResult(model, fmt, path, rows, digest, [c.name for c in columns], filters)


# ---------------------------------------------------------------------------------------------------------------
# KPI catalogue (MetricFlow semantic layer)

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


def target_path() -> Path:
    """Where dbt writes its artifacts (orchestration.dbt.target_path), resolved."""
    return dbt_target_path().resolve()


def semantic_manifest(path: Path | None = None, *, parse: bool = True) -> dict[str, Any]:
    """The semantic manifest dbt writes on parse; runs `dbt parse` first when there is none yet."""
    file = (path or target_path()) / "semantic_manifest.json"
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


# ---------------------------------------------------------------------------------------------------------------
# Docs site


def generate_docs(target: str | None = None, static: bool = True) -> Path:
    """`dbt docs generate` (with a single-file static_index.html that opens from disk); returns the folder."""
    args = ["docs", "generate"] + (["--static"] if static else [])
    result = run_dbt(args, target=target, capture=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise FunnelError("dbt docs generate failed: " + " | ".join(tail), "run `funnel build` first")
    return target_path()
