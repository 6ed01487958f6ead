"""`funnel reconcile`: the nightly audit that nothing was lost and nothing doubled.

Two checks on the warehouse as built:

- per raw source table: raw rows = staged rows + collapsed duplicates + rejected rows (by reason), read from
  the staging / reconciliation / reject models of both sources;
- per windowed incremental model: every date it covers equals a fresh `--full-refresh` at the same source_dt,
  built into scratch schemas of the same database and compared with `except all` both ways over the dates
  present in the incremental table (so doubled rows count too); per keyed model (staging by load, timelines
  and facts by key): the whole table equals that full refresh. The scratch schemas are dropped afterwards.

The date column and grain of a windowed model come from the window it declares in its config
(`meta: {window: {column, grain}}`), a keyed model declares `meta.keyed` (macros/incremental_window.sql,
macros/incremental_keys.sql; read from the manifest), so a new incremental model is checked without changes here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from orchestration.core import warehouse
from orchestration.core.contracts import LOADED_SOURCES, RECONCILIATION_MODELS, raw_schema, source_tables
from orchestration.core.dbt import dbt_vars
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import (
    dbt_manifest,
    is_keyed,
    model_nodes,
    model_window,
    project_manifest,
    relation_exists,
    relation_of,
)
from orchestration.core.settings import Connection, connection

SCRATCH_RE = re.compile(r"[a-z_][a-z0-9_]{0,39}")


@dataclass
class TableCount:
    source: str
    source_table: str
    raw_rows: int
    staged_rows: int
    duplicate_rows: int
    rejected_rows: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.raw_rows == self.staged_rows + self.duplicate_rows + self.rejected_rows


@dataclass
class ModelCheck:
    model: str
    relation: str
    date_column: str | None
    grain: str | None
    covered_dates: int = 0
    first_date: str | None = None
    last_date: str | None = None
    extra_rows: int = 0  # in the incremental table, not in the full refresh
    missing_rows: int = 0  # in the full refresh (on a covered date), not in the incremental table
    note: str | None = None
    keyed: bool = False  # compared whole (no date column)

    @property
    def checked(self) -> bool:
        return self.keyed or self.date_column is not None

    @property
    def ok(self) -> bool:
        return self.checked and self.extra_rows == 0 and self.missing_rows == 0


@dataclass
class Report:
    variables: dict[str, object]
    tables: list[TableCount] = field(default_factory=list)
    models: list[ModelCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        return sum(not t.ok for t in self.tables) + sum(not m.ok for m in self.models)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


def _table_exists(db: psycopg.Connection, schema: str, table: str) -> bool:
    return bool(warehouse.scalar(db, "select to_regclass(%s) is not null", (f'"{schema}"."{table}"',)))


def _reject_reasons(db: psycopg.Connection, rejects: dict) -> dict[str, dict[str, int]]:
    """Rejected rows per source table and reason, from a source's rejects model."""
    by_reason: dict[str, dict[str, int]] = {}
    for table, reason, rows in db.execute(
        sql.SQL("select source_table, reject_reason, count(*) from {} group by 1, 2 order by 1, 3 desc").format(
            relation_of(rejects)
        )
    ).fetchall():
        by_reason.setdefault(table, {})[reason or "(no reason)"] = rows
    return by_reason


def _source_counts(db: psycopg.Connection, source: str, models: dict[str, dict], report: Report) -> None:
    """Raw, staged, duplicate and rejected rows per raw table of `source`, from its reconciliation model."""
    reconciliation = models.get(RECONCILIATION_MODELS[source])
    rejects = models.get(f"stg_{source}__rejects")
    if not any(_table_exists(db, raw_schema(source), t.name) for t in source_tables(source)):
        report.notes.append(f"{source}: nothing loaded (no {raw_schema(source)} tables)")
        return
    if (
        reconciliation is None
        or rejects is None
        or not (relation_exists(db, reconciliation) and relation_exists(db, rejects))
    ):
        report.notes.append(f"{source}: staging models not built; run `funnel build` first")
        report.tables.append(TableCount(source, "(staging not built)", 1, 0, 0, 0))
        return
    by_reason = _reject_reasons(db, rejects)
    for table, raw, staged, duplicates, rejected in db.execute(
        sql.SQL(
            "select source_table, sum(raw_rows), sum(staged_rows), sum(duplicate_rows), sum(rejected_rows)"
            " from {} group by 1 order by 1"
        ).format(relation_of(reconciliation))
    ).fetchall():
        reasons = by_reason.get(table, {})
        count = TableCount(source, table, int(raw), int(staged), int(duplicates), int(rejected), reasons)
        if sum(reasons.values()) != count.rejected_rows:  # the two reject views must agree
            count.raw_rows = -1
            report.notes.append(f"{source}.{table}: rejects by reason ({sum(reasons.values())}) != {rejected}")
        report.tables.append(count)


def _compare(db: psycopg.Connection, live: dict, scratch: dict, check: ModelCheck) -> None:
    columns = [
        row[0]
        for row in db.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
            " order by ordinal_position",
            (live["schema"], live.get("alias") or live["name"]),
        ).fetchall()
    ]
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    inc, full = relation_of(live), relation_of(scratch)
    if check.keyed:
        whole = sql.SQL(
            "select (select count(*) from {inc}),"
            " (select count(*) from (select {cols} from {inc} except all select {cols} from {full}) as extra),"
            " (select count(*) from (select {cols} from {full} except all select {cols} from {inc}) as missing)"
        ).format(inc=inc, full=full, cols=cols)
        check.covered_dates, check.extra_rows, check.missing_rows = warehouse.one_row(db, whole)
        return
    assert check.date_column, "only models that declare a window or keys are compared"
    day = sql.Identifier(check.date_column)
    query = sql.SQL(
        "with covered as (select distinct {day} as d from {inc}),"
        " full_refresh as (select {cols} from {full} where {day} in (select d from covered)),"
        " incremental as (select {cols} from {inc})"
        " select (select count(*) from covered),"
        " (select min(d)::text from covered), (select max(d)::text from covered),"
        " (select count(*) from (select * from incremental except all select * from full_refresh) as extra),"
        " (select count(*) from (select * from full_refresh except all select * from incremental) as missing)"
    ).format(day=day, inc=inc, full=full, cols=cols)
    check.covered_dates, check.first_date, check.last_date, check.extra_rows, check.missing_rows = warehouse.one_row(
        db, query
    )


def _scratch_schemas(db: psycopg.Connection, prefix: str) -> list[str]:
    rows = db.execute(
        "select nspname from pg_namespace where nspname = %s or left(nspname, %s) = %s",
        (prefix, len(prefix) + 1, prefix + "_"),
    ).fetchall()
    return [row[0] for row in rows]


def reconcile(
    scratch_schema: str | None = None,
    *,
    source_dt: str | None = None,
    timezone: str | None = None,
    target: str | None = None,
    conn: Connection | None = None,
) -> Report:
    """Audit the built warehouse (see the module doc); the scratch schemas are always dropped."""
    variables = dbt_vars(source_dt, None, None, timezone)
    if target not in (None, "dev", "ci", "prod"):
        raise FunnelError(f"target={target!r} is not a dbt target of this project", "use dev, ci or prod")
    scratch = scratch_schema or f"reconcile_{secrets.token_hex(4)}"
    if not SCRATCH_RE.fullmatch(scratch):
        raise FunnelError(f"scratch schema {scratch!r} is not a plain identifier", "use [a-z_][a-z0-9_]*, <= 40 chars")
    conn = conn or connection()
    if conn.embedded:
        warehouse.start()
    with warehouse.connect(conn, autocommit=True) as db:
        existing = _scratch_schemas(db, scratch)
    if existing:
        raise FunnelError(f"scratch schema {scratch!r} clashes with existing schemas {existing}", "pick another")
    report = Report(variables)
    live_models = model_nodes(project_manifest(variables, conn, target))
    with warehouse.connect(conn, autocommit=True) as db:
        for source in LOADED_SOURCES:
            _source_counts(db, source, live_models, report)
        incremental = {}
        for name, node in sorted(live_models.items()):
            if node["config"].get("materialized") != "incremental":
                continue
            if not relation_exists(db, node):
                report.notes.append(f"{name}: not built, not checked")
                continue
            column, grain = model_window(node)
            relation = f"{node['schema']}.{node.get('alias') or name}"
            check = ModelCheck(name, relation, column, grain, keyed=is_keyed(node))
            if not check.checked:
                check.note = "no meta.window or meta.keyed in its config: it cannot be checked"
            report.models.append(check)
            incremental[name] = check
        if not any(c.checked for c in incremental.values()):
            return report
        try:
            selected = [f"+{name}" for name, check in incremental.items() if check.checked]
            scratch_models = model_nodes(
                dbt_manifest(
                    ["build", "--full-refresh", "--select", *selected, "--resource-type", "model",
                     "--resource-type", "seed"],
                    variables,
                    conn,
                    "ci" if target == "ci" else "dev",  # never prod: its schema names are not prefixed
                    scratch,
                )
            )  # fmt: skip
            for name, check in incremental.items():
                if check.checked:
                    _compare(db, live_models[name], scratch_models[name], check)
        finally:
            for schema in _scratch_schemas(db, scratch):
                db.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
    return report


def format_report(report: Report) -> str:
    lines = [f"reconcile ({', '.join(f'{k}={v}' for k, v in report.variables.items()) or 'source_dt=today'})", ""]
    lines.append(f"  {'source table':<36} {'raw':>10} {'staged':>10} {'duplicate':>10} {'rejected':>10}")
    for t in report.tables:
        flag = "ok" if t.ok else "MISMATCH"
        lines.append(
            f"  {t.source + '.' + t.source_table:<36} {t.raw_rows:>10,} {t.staged_rows:>10,}"
            f" {t.duplicate_rows:>10,} {t.rejected_rows:>10,}  {flag}"
        )
        for reason, rows in t.rejects_by_reason.items():
            lines.append(f"      {rows:>8,}  {reason}")
    lines += ["", f"  {'windowed model':<36} {'dates':>6} {'from':>10} {'to':>10} {'extra':>7} {'missing':>7}"]
    for m in report.models:
        if m.keyed:
            continue
        flag = "ok" if m.ok else "MISMATCH"
        lines.append(
            f"  {m.model:<36} {m.covered_dates:>6} {m.first_date or '-':>10} {m.last_date or '-':>10}"
            f" {m.extra_rows:>7} {m.missing_rows:>7}  {flag}{'  ' + m.note if m.note else ''}"
        )
    keyed = [m for m in report.models if m.keyed]
    if keyed:
        lines += ["", f"  {'keyed model (whole table)':<36} {'rows':>10} {'extra':>7} {'missing':>7}"]
        for m in keyed:
            flag = "ok" if m.ok else "MISMATCH"
            lines.append(f"  {m.model:<36} {m.covered_dates:>10,} {m.extra_rows:>7} {m.missing_rows:>7}  {flag}")
    lines += [""] + [f"  note: {n}" for n in report.notes]
    lines.append(f"{report.mismatches} mismatch(es)" if report.mismatches else "0 mismatches: reconciled")
    return "\n".join(lines)
