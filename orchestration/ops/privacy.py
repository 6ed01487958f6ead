"""Privacy operations: the retention purge, the right to be forgotten, and their append-only audit.

Both work on raw rows, found through the restricted dbt model `privacy_raw_rows` (one row per raw row with
hashed identifiers, resolved customer and retention date), act on them per seeds/compliance/
compliance_erasure_policies.csv (delete, or anonymise = blank the personal columns), then rebuild the
warehouse with an incremental window reaching back to the oldest event touched, so every derived table and
aggregate follows and stays consistent. A forget also records the subject's hashed e-mails and phones in
privacy.suppressions, which staging applies: no rebuild, backfill or re-landed export brings them back.
Every run that changes something appends one row to privacy.audit_log; dry runs change nothing.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql

from orchestration.core import warehouse
from orchestration.core.dbt import dbt_vars, run_dbt
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import model_nodes, project_manifest, relation_exists, relation_of, today
from orchestration.core.privacy_tables import ensure_privacy_tables
from orchestration.core.settings import REPO_ROOT, Connection, connection

POLICIES_CSV = REPO_ROOT / "seeds" / "compliance" / "compliance_erasure_policies.csv"
RETENTION_CSV = REPO_ROOT / "seeds" / "compliance" / "compliance_retention_policies.csv"
INDEX_MODEL = "privacy_raw_rows"
MAX_PURGE_PASSES = 5  # a purged lead can shorten the retention of its booking (new region): purge to a fixpoint
MIN_REJECT_MATCH = 5  # identifiers shorter than this are not searched in malformed lines (too many false hits)


@dataclass(frozen=True)
class Policy:
    action: str  # delete | anonymise
    personal_columns: tuple[str, ...]


def policies(operation: str) -> dict[tuple[str, str], Policy]:
    """(source_system, table_name) -> policy of one operation, validated."""
    out: dict[tuple[str, str], Policy] = {}
    with POLICIES_CSV.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            if row["operation"] != operation:
                continue
            columns = tuple(row["personal_columns"].split())
            if row["action"] not in ("delete", "anonymise") or (row["action"] == "anonymise" and not columns):
                raise FunnelError(
                    f"{POLICIES_CSV.name} line {line}: action {row['action']!r} with columns {columns}",
                    "use delete, or anonymise with the personal columns to blank",
                )
            out[(row["source_system"], row["table_name"])] = Policy(row["action"], columns)
    return out


def normalise_identifier(kind: str, value: str) -> str:
    """The identifier as staging hashes it (macros/privacy/privacy.sql); an error when nothing is left."""
    if kind == "email":
        text = re.sub(r"\s+", "", value).lower()
        if "@" not in text:
            raise FunnelError(f"--email {value!r} is not an e-mail address", "e.g. --email jane.doe@example.com")
    elif kind == "phone":
        text = re.sub(r"[^0-9]", "", value)
        if len(text) < 6:
            raise FunnelError(f"--phone {value!r} has fewer than 6 digits", "e.g. --phone '+49 30 1234567'")
    else:
        text = value.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{32}", text):
            raise FunnelError(
                f"--customer-key {value!r} is not a customer key", "a 32-hex customer_id of dim_customers"
            )
    return text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Change:
    """What one operation did (or, dry, would do) per table."""

    operation: str
    scope: str
    dry_run: bool
    raw: dict[str, dict[str, int]] = field(default_factory=dict)  # raw table -> {action: rows}
    derived: dict[str, int] = field(default_factory=dict)  # derived relation -> rows concerned before the rebuild
    rejected_lines: int = 0
    passes: int = 0
    audit_id: int | None = None

    def add(self, table: str, action: str, rows: int) -> None:
        if rows:
            counts = self.raw.setdefault(table, {})
            counts[action] = counts.get(action, 0) + rows

    @property
    def total_rows(self) -> int:
        return sum(sum(c.values()) for c in self.raw.values()) + self.rejected_lines

    def text(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        lines = [f"{self.operation} ({self.scope}): {verb} {self.total_rows} raw row(s)"]
        for table, counts in sorted(self.raw.items()):
            lines.append(f"  {table:<40} " + ", ".join(f"{action} {n}" for action, n in sorted(counts.items())))
        if self.rejected_lines:
            lines.append(f"  {'raw.load_rejects':<40} delete {self.rejected_lines} (malformed lines)")
        if self.derived:
            lines.append("  derived tables concerned (follow on the rebuild):")
            lines += [f"    {name:<38} {rows} row(s)" for name, rows in sorted(self.derived.items())]
        if not self.dry_run and self.total_rows:
            lines.append(f"  rebuilt in {self.passes} pass(es); audit_id {self.audit_id}")
        return "\n".join(lines)


class _Warehouse:
    """The built project as seen by a privacy operation: connection, dbt vars and relation names."""

    def __init__(self, source_dt: str | None, timezone: str | None, target: str | None) -> None:
        if target not in (None, "dev", "ci", "prod"):
            raise FunnelError(f"target={target!r} is not a dbt target of this project", "use dev, ci or prod")
        self.variables = dbt_vars(source_dt, None, None, timezone)
        self.target = target
        self.conn: Connection = connection()
        if self.conn.embedded:
            warehouse.start()
        self.models = model_nodes(project_manifest(self.variables, self.conn, target))
        self.index = relation_of(self.models[INDEX_MODEL])

    def check_built(self, db: psycopg.Connection) -> None:
        if not relation_exists(db, self.models[INDEX_MODEL]):
            raise FunnelError(f"the warehouse has no {INDEX_MODEL} yet", "build it first: funnel build")

    def source_dt(self) -> date:
        if "source_dt" in self.variables:
            return date.fromisoformat(str(self.variables["source_dt"]))
        return today(str(self.variables.get("business_timezone", "UTC")))

    def rebuild(self, change: Change, oldest_event: date | None) -> None:
        """Rebuild what depends on the touched raw tables: first everything but the windowed models, the keyed ones
        whole (--full-refresh: rows changed in place carry no new load to find them by); then the windowed models
        with a window from the oldest touched event to source_dt, so every affected date is redone. Tests run on
        the next build."""
        end = self.source_dt()
        days = max((end - oldest_event).days, 0) if oldest_event else 0
        variables = {**self.variables, "backfill_period": max(days, 3)}
        tables = [name for name in change.raw if name.startswith("raw_")]
        select = [f"source:{name.removeprefix('raw_')}+" for name in sorted(tables)] or ["privacy_raw_rows"]
        skip_tests = ["--exclude", "resource_type:test", "resource_type:unit_test"]
        windowed = "config.incremental_strategy:append"
        invocations = [
            ["build", "--full-refresh", "--select", *select, *skip_tests, windowed],
            ["build", "--select", *(f"{item},{windowed}" for item in select), *skip_tests],
        ]
        for args in invocations:
            result = run_dbt(args, variables, conn=self.conn, target=self.target, capture=True)
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
                raise FunnelError(
                    f"the rebuild after the change failed:\n{tail}", "fix the build, then rerun funnel build"
                )

    def derived_counts(self, db: psycopg.Connection, column: str, test: str, value: object) -> dict[str, int]:
        """Rows per built model whose `column` passes `test` (`= any(%s)` or `< %s`) against `value`."""
        counts = {}
        for name, node in sorted(self.models.items()):
            if name == INDEX_MODEL:
                continue
            has_column = db.execute(
                "select 1 from information_schema.columns where table_schema = %s and table_name = %s"
                " and column_name = %s",
                (node["schema"], node.get("alias") or name, column),
            ).fetchone()
            if has_column:
                query = sql.SQL("select count(*) from {} where {} " + test).format(
                    relation_of(node), sql.Identifier(column)
                )
                rows = warehouse.scalar(db, query, (value,))
                if rows:
                    counts[name] = rows
        return counts


def _raw_table(source_system: str, table: str) -> sql.Identifier:
    return sql.Identifier(f"raw_{source_system}", table)


def _raw_columns(db: psycopg.Connection, source_system: str, table: str) -> set[str]:
    rows = db.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (f"raw_{source_system}", table),
    ).fetchall()
    return {row[0] for row in rows}


def _apply(
    db: psycopg.Connection,
    rows: list[tuple[str, str, int, int, bool]],
    rules: dict[tuple[str, str], Policy],
    change: Change,
) -> None:
    """Delete or anonymise the given raw rows (source_system, table, _load_id, _source_line, has_personal_data);
    a dry run only counts them."""
    by_table: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for source_system, table, load_id, line, has_personal in rows:
        rule = rules.get((source_system, table))
        if rule is None or (rule.action == "anonymise" and not has_personal):
            continue
        by_table.setdefault((source_system, table), []).append((load_id, line))
    for (source_system, table), keys in sorted(by_table.items()):
        rule = rules[(source_system, table)]
        if change.dry_run:
            change.add(f"raw_{source_system}.{table}", rule.action, len(keys))
            continue
        load_ids, lines = [k[0] for k in keys], [k[1] for k in keys]
        match = sql.SQL("(_load_id, _source_line) in (select * from unnest(%s::bigint[], %s::bigint[]))")
        if rule.action == "delete":
            statement = sql.SQL("delete from {} where ").format(_raw_table(source_system, table)) + match
        else:
            present = _raw_columns(db, source_system, table)
            unknown = [c for c in rule.personal_columns if c not in present]
            if unknown:
                raise FunnelError(
                    f"{POLICIES_CSV.name}: raw_{source_system}.{table} has no column(s) {unknown}",
                    "fix personal_columns of the policy",
                )
            blank = sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(c)) for c in rule.personal_columns)
            statement = sql.SQL("update {} set {} where ").format(_raw_table(source_system, table), blank) + match
        touched = db.execute(statement, (load_ids, lines)).rowcount
        change.add(f"raw_{source_system}.{table}", rule.action, touched)


def _audit(db: psycopg.Connection, change: Change) -> int:
    who = f"{warehouse.scalar(db, 'select current_user')} (os user {getpass.getuser()})"
    touched = {table: counts for table, counts in change.raw.items()}
    if change.rejected_lines:
        touched["raw.load_rejects"] = {"delete": change.rejected_lines}
    return int(
        warehouse.scalar(
            db,
            "insert into privacy.audit_log (operation, requested_by, scope, rows_touched, total_rows)"
            " values (%s, %s, %s, %s, %s) returning audit_id",
            (change.operation, who, change.scope, json.dumps(touched, sort_keys=True), change.total_rows),
        )
    )


# --- forget ------------------------------------------------------------------------------------------------


def _subject_rows(db: psycopg.Connection, index: sql.Composable, column: str, value: str) -> list[tuple]:
    """Every raw row of the subject: matched directly, or sharing its customer, e-mail or phone (one hop)."""
    query = sql.SQL(
        """
        with seed as (
            select customer_id, email_hash, phone_hash from {index} where {column} = %s
        ),
        customers as (
            select customer_id from seed where customer_id is not null
        ),
        linked as (
            select email_hash, phone_hash from {index}
            where customer_id in (select customers.customer_id from customers)
            union all
            select email_hash, phone_hash from seed
        )
        select source_system, table_name, _load_id, _source_line, has_personal_data, event_date,
               email_hash, phone_hash, customer_id
        from {index}
        where customer_id in (select customers.customer_id from customers)
           or email_hash in (select linked.email_hash from linked)
           or phone_hash in (select linked.phone_hash from linked)
        """
    ).format(index=index, column=sql.Identifier(column))
    return db.execute(query, (value,)).fetchall()


def _still_personal(db: psycopg.Connection, index: sql.Composable, keys: list[tuple]) -> int:
    """How many of the given raw rows (source_system, table, _load_id, _source_line) still hold personal data."""
    query = sql.SQL(
        "select count(*) from {} as listed join unnest(%s::text[], %s::bigint[], %s::bigint[]) as k(t, l, s)"
        " on listed.table_name = k.t and listed._load_id = k.l and listed._source_line = k.s"
        " where listed.has_personal_data"
    ).format(index)
    return int(warehouse.scalar(db, query, ([k[1] for k in keys], [k[2] for k in keys], [k[3] for k in keys])))


def _plain_identifiers(db: psycopg.Connection, rows: list[tuple], given: str) -> set[str]:
    """The subject's names, e-mails and phones as written in raw: what malformed lines are searched for."""
    values = {given}
    wanted = {
        ("field_crm", "leads"): ["customer_name", "customer_email", "customer_phone"],
        ("field_crm", "booked_opportunities"): ["customer_email"],
        ("field_crm", "jobs"): ["customer_email"],
        ("pipedrive", "users"): ["name", "email"],
    }
    for (source_system, table), columns in wanted.items():
        keys = [(r[2], r[3]) for r in rows if (r[0], r[1]) == (source_system, table)]
        if not keys:
            continue
        query = sql.SQL(
            "select {} from {} where (_load_id, _source_line) in (select * from unnest(%s::bigint[], %s::bigint[]))"
        ).format(sql.SQL(", ").join(map(sql.Identifier, columns)), _raw_table(source_system, table))
        for found in db.execute(query, ([k[0] for k in keys], [k[1] for k in keys])).fetchall():
            values.update(v.strip() for v in found if v and v.strip())
    return {v for v in values if len(v) >= MIN_REJECT_MATCH}


def _rejected_lines(db: psycopg.Connection, identifiers: set[str], *, delete: bool) -> int:
    """Malformed lines (raw.load_rejects) that contain one of the identifiers, case-insensitively."""
    if not identifiers:
        return 0
    patterns = ["%" + re.sub(r"([%_\\])", r"\\\1", v) + "%" for v in identifiers]
    verb = "delete from raw.load_rejects" if delete else "select 1 from raw.load_rejects"
    cursor = db.execute(f"{verb} where raw_line ilike any(%s)", (patterns,))
    return cursor.rowcount if delete else len(cursor.fetchall())


def forget(
    kind: str,
    value: str,
    *,
    dry_run: bool = False,
    source_dt: str | None = None,
    timezone: str | None = None,
    target: str | None = None,
    say: Callable[[str], None] = print,
) -> Change:
    """Forget one data subject (see the module doc); `kind` is email, phone or customer_key."""
    normalised = normalise_identifier(kind, value)
    column = {"email": "email_hash", "phone": "phone_hash", "customer_key": "customer_id"}[kind]
    needle = normalised if kind == "customer_key" else sha256_hex(normalised)
    scope = f"{kind} " + (normalised if kind == "customer_key" else f"sha256:{needle[:16]}")
    project = _Warehouse(source_dt, timezone, target)
    change = Change("forget", scope, dry_run)
    rules = policies("forget")
    with warehouse.connect(project.conn) as db:
        project.check_built(db)
        rows = _subject_rows(db, project.index, column, needle)
        customers = sorted({r[8] for r in rows if r[8]})
        emails = sorted({r[6] for r in rows if r[6]})
        phones = sorted({r[7] for r in rows if r[7]})
        if not rows:
            say(f"forget ({scope}): no raw row carries this identifier; recording it so future loads stay clean")
        change.derived = project.derived_counts(db, "customer_id", "= any(%s)", customers) if customers else {}
        plain = _plain_identifiers(db, rows, value.strip())
        _apply(db, [r[:5] for r in rows], rules, change)
        if dry_run:
            change.rejected_lines = _rejected_lines(db, plain, delete=False)
            return change
        change.rejected_lines = _rejected_lines(db, plain, delete=True)
        change.audit_id = _audit(db, change)
        suppress = [("email", h) for h in emails] + [("phone", h) for h in phones]
        if kind != "customer_key":
            suppress.append((kind, needle))
        with db.cursor() as cur:
            cur.executemany(
                "insert into privacy.suppressions (kind, value_hash, audit_id) values (%s, %s, %s)"
                " on conflict (kind, value_hash) do nothing",
                [(k, h, change.audit_id) for k, h in suppress],
            )
        oldest = min((r[5] for r in rows if r[5] is not None), default=None)
    if change.total_rows:
        project.rebuild(change, oldest)
        change.passes = 1
    with warehouse.connect(project.conn) as db:
        left = _still_personal(db, project.index, [r[:4] for r in rows if rules.get((r[0], r[1]))])
        if left:
            raise FunnelError(
                f"{left} raw row(s) of the subject still hold personal data after forget",
                "check compliance_erasure_policies.csv covers every table listed above",
            )
    return change


# --- purge -------------------------------------------------------------------------------------------------


def _default_retention_days() -> int:
    with RETENTION_CSV.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if (row["region"], row["table_family"]) == ("unassigned", "default"):
                return int(row["retention_days"])
    return 365


def _expired_rows(db: psycopg.Connection, index: sql.Composable, as_of: date) -> list[tuple]:
    query = sql.SQL(
        "select source_system, table_name, _load_id, _source_line, has_personal_data, event_date"
        " from {} where data_retention_date < %s"
    ).format(index)
    return db.execute(query, (as_of,)).fetchall()


def _expired_rejects(db: psycopg.Connection, as_of: date, *, delete: bool) -> int:
    """Malformed lines have no event date: they age from their load with the shortest (unassigned) retention."""
    verb = "delete from raw.load_rejects as rejected" if delete else "select 1 from raw.load_rejects as rejected"
    query = (
        f"{verb} where exists (select 1 from raw.load_ledger as ledger where ledger.load_id = rejected.load_id"
        " and cast(ledger.loaded_at as date) + %s < %s)"
    )
    cursor = db.execute(query, (_default_retention_days(), as_of))
    return cursor.rowcount if delete else len(cursor.fetchall())


def purge(
    as_of: date,
    *,
    dry_run: bool = False,
    source_dt: str | None = None,
    timezone: str | None = None,
    target: str | None = None,
) -> Change:
    """Delete (or anonymise) every raw row past its retention date as of `as_of`, rebuild, repeat to a fixpoint."""
    project = _Warehouse(source_dt, timezone, target)
    change = Change("purge", f"as of {as_of.isoformat()}", dry_run)
    rules = policies("purge")
    with warehouse.connect(project.conn) as db:
        project.check_built(db)
        change.derived = project.derived_counts(db, "data_retention_date", "< %s", as_of)
    while True:
        with warehouse.connect(project.conn) as db:
            rows = _expired_rows(db, project.index, as_of)
            before = change.total_rows
            _apply(db, [r[:5] for r in rows], rules, change)
            if dry_run:
                change.rejected_lines = _expired_rejects(db, as_of, delete=False)
                return change
            if change.passes == 0:
                change.rejected_lines = _expired_rejects(db, as_of, delete=True)
        if change.total_rows == before:
            break
        if change.passes == MAX_PURGE_PASSES:
            raise FunnelError(
                f"purge did not reach a fixpoint in {MAX_PURGE_PASSES} passes",
                "rows keep expiring after each rebuild; check the retention policies",
            )
        project.rebuild(change, min((r[5] for r in rows if r[5] is not None), default=None))
        change.passes += 1
    if change.total_rows:
        with warehouse.connect(project.conn) as db:
            change.audit_id = _audit(db, change)
    return change


# --- audit -------------------------------------------------------------------------------------------------


def audit_rows(limit: int = 50) -> list[tuple]:
    """The latest audit rows, newest first."""
    conn = connection()
    if conn.embedded:
        warehouse.start()
    with warehouse.connect(conn) as db:
        ensure_privacy_tables(db)
        return db.execute(
            "select audit_id, logged_at, operation, requested_by, scope, total_rows, rows_touched"
            " from privacy.audit_log order by audit_id desc limit %s",
            (limit,),
        ).fetchall()
