"""What a build read, so that a build with nothing new to read does nothing and a model whose code changed is
rebuilt whole.

A build is a function of three inputs: the project's files (models, macros, seeds, tests: what a parse reads),
what landed (raw.load_ledger, supersessions included) and what privacy changed (privacy.audit_log), and the run
itself (vars with source_dt resolved, selection, full refresh, target, schemas, the sources switched on).
After a build that passed, raw.build_ledger keeps one row per step (a `funnel build` selection, a Dagster dbt
step) with the digest of these inputs and of every node's code. A later run of the same step whose digests are
the same has nothing to do: its tables already hold what it would write. A build that runs first deletes the
rows of other inputs (it is about to overwrite what they recorded) and its own; so a row stands only for
tables no later build rewrote with other inputs.

Unit tests read fixtures written in the project's files, not the warehouse: once a step's unit tests passed on
some files, they pass on them whatever landed since, so that step skips them until a file changes (dbt's own
advice: unit tests belong to development and CI, not to every production run). Their row (step `unit tests of
<step>`) outlives the rows of other inputs.

Not seen: plain `dbt` invocations and SQL run by hand against the warehouse; `funnel build --force` builds anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from orchestration.core import warehouse
from orchestration.core.dbt import dbt_env
from orchestration.core.manifest import parse_inputs, today
from orchestration.core.settings import Connection, connection

LEDGER_DDL = """
create table if not exists raw.build_ledger (
    namespace text not null,
    step text not null,
    inputs_digest text not null,
    files_digest text not null,
    node_digests jsonb not null,
    finished_at timestamptz not null default clock_timestamp(),
    primary key (namespace, step)
)
"""
UNIT_TESTS_OF = "unit tests of "


def _sha(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def files_digest() -> str:
    """Every file a dbt parse reads, by path and content."""
    entries = []
    for path in parse_inputs():
        entries.append(f"{path}:{hashlib.sha256(path.read_bytes()).hexdigest()}")
    return _sha(sorted(entries))


def data_digest(db: psycopg.Connection) -> str:
    """What landed and what privacy changed: every load (and what superseded it) and the last audit entry."""
    ledger = warehouse.scalar(
        db,
        "select case when to_regclass('raw.load_ledger') is not null then ("
        " select md5(coalesce(string_agg(concat_ws(':', load_id, superseded_by, rows_loaded, rows_rejected), ','"
        " order by load_id), '')) from raw.load_ledger) end",
    )
    audit = warehouse.scalar(
        db,
        "select case when to_regclass('privacy.audit_log') is not null then"
        " (select coalesce(max(audit_id), 0) from privacy.audit_log) end",
    )
    return _sha([str(ledger), str(audit)])


def namespace(conn: Connection, target: str | None) -> str:
    """The relations a build writes: the server, database, target and schema prefix."""
    env = dbt_env(conn, target)
    return f"{conn.host}:{conn.port}/{conn.dbname}/{env.get('FUNNEL_TARGET', '')}/{env.get('FUNNEL_DB_SCHEMA', '')}"


def run_inputs(variables: Mapping[str, object], conn: Connection, target: str | None) -> str:
    """The vars (source_dt resolved: unset is today) and the sources switched on."""
    resolved = dict(variables)
    resolved.setdefault("source_dt", today(str(variables.get("business_timezone") or "") or None).isoformat())
    env = dbt_env(conn, target)
    switches = {k: v for k, v in env.items() if k.startswith("FUNNEL_") and k.endswith("_ENABLED")}
    return json.dumps({"vars": resolved, "switches": switches}, sort_keys=True, default=str)


@dataclass(frozen=True)
class BuildInputs:
    namespace: str
    step: str
    digest: str
    files: str


def build_inputs(
    step: str, variables: Mapping[str, object], *, target: str | None = None, conn: Connection | None = None
) -> BuildInputs:
    """The inputs of one step (`step` names what it runs: its dbt arguments or Dagster step and selection)."""
    conn = conn or connection()
    with warehouse.connect(conn) as db:
        data = data_digest(db)
    files = files_digest()
    return BuildInputs(namespace(conn, target), step, _sha([files, data, run_inputs(variables, conn, target)]), files)


def _ledger_exists(db: psycopg.Connection) -> bool:
    return bool(warehouse.scalar(db, "select to_regclass('raw.build_ledger') is not null"))


def already_built(inputs: BuildInputs, conn: Connection | None = None) -> str | None:
    """When this step last passed with the same inputs (a timestamp as text), or None."""
    with warehouse.connect(conn) as db:
        if not _ledger_exists(db):
            return None
        row = db.execute(
            "select to_char(finished_at, 'YYYY-MM-DD HH24:MI:SS TZ') from raw.build_ledger"
            " where namespace = %s and step = %s and inputs_digest = %s",
            (inputs.namespace, inputs.step, inputs.digest),
        ).fetchone()
    return str(row[0]) if row else None


def previous_node_digests(inputs: BuildInputs, conn: Connection | None = None) -> dict[str, str] | None:
    """The node digests of the namespace's latest passed build (any step); None when that build read the same
    files (no code changed) or none is recorded."""
    with warehouse.connect(conn) as db:
        if not _ledger_exists(db):
            return None
        row = db.execute(
            "select files_digest, node_digests from raw.build_ledger where namespace = %s"
            " and not starts_with(step, %s) order by finished_at desc limit 1",
            (inputs.namespace, UNIT_TESTS_OF),
        ).fetchone()
    return dict(row[1]) if row and row[0] != inputs.files else None


def starting(inputs: BuildInputs, conn: Connection | None = None) -> None:
    """Forget what this build is about to overwrite: rows of other inputs, and this step's own."""
    with warehouse.connect(conn) as db:
        db.execute("create schema if not exists raw")
        db.execute(LEDGER_DDL)
        db.execute(
            "delete from raw.build_ledger where namespace = %s and (inputs_digest <> %s or step = %s)"
            " and not starts_with(step, %s)",
            (inputs.namespace, inputs.digest, inputs.step, UNIT_TESTS_OF),
        )
        db.commit()


def finished(inputs: BuildInputs, node_digests: Mapping[str, str], conn: Connection | None = None) -> None:
    """Record a step that passed."""
    with warehouse.connect(conn) as db:
        db.execute(LEDGER_DDL)
        db.execute(
            "insert into raw.build_ledger (namespace, step, inputs_digest, files_digest, node_digests)"
            " values (%s, %s, %s, %s, %s) on conflict (namespace, step) do update set"
            " inputs_digest = excluded.inputs_digest, files_digest = excluded.files_digest,"
            " node_digests = excluded.node_digests, finished_at = clock_timestamp()",
            (inputs.namespace, inputs.step, inputs.digest, inputs.files, json.dumps(dict(node_digests))),
        )
        db.commit()


def unit_tests_passed(inputs: BuildInputs, conn: Connection | None = None) -> bool:
    """This step's unit tests passed already on these very files (see the top of this module)."""
    with warehouse.connect(conn) as db:
        if not _ledger_exists(db):
            return False
        row = db.execute(
            "select 1 from raw.build_ledger where namespace = %s and step = %s and files_digest = %s",
            (inputs.namespace, UNIT_TESTS_OF + inputs.step, inputs.files),
        ).fetchone()
    return row is not None


@dataclass(frozen=True)
class TestPlan:
    """What a build step's tests cover. When every test is asked for (--full-refresh, --all-tests, the weekly
    replay) or a project file changed since the step's unit tests passed (a model, macro, test or seed: nothing a
    load records), unit tests run and data tests check every row; otherwise unit tests are left out and data tests
    check what the run changed (macros/tests/test_scope.sql)."""

    dbt_args: list[str]  # appended to `dbt build`
    files_changed: bool  # every row because of the files, not asked for: the caller sets var test_scope all

    @property
    def runs_unit_tests(self) -> bool:
        return not self.dbt_args


def test_plan(inputs: BuildInputs, *, every_test: bool) -> TestPlan:
    if every_test:
        return TestPlan([], files_changed=False)
    if not unit_tests_passed(inputs):
        return TestPlan([], files_changed=True)
    return TestPlan(["--exclude-resource-type", "unit_test"], files_changed=False)


def unit_tests_finished(inputs: BuildInputs, conn: Connection | None = None) -> None:
    """Record that this step's unit tests passed on its files."""
    finished(BuildInputs(inputs.namespace, UNIT_TESTS_OF + inputs.step, inputs.files, inputs.files), {}, conn)


def node_digests(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Per model, seed and snapshot: its file, its config and, transitively, every macro it calls."""
    macros = manifest.get("macros", {})
    memo: dict[str, str] = {}

    def macro_digest(unique_id: str, seen: frozenset[str]) -> str:
        if unique_id in memo:
            return memo[unique_id]
        macro = macros.get(unique_id)
        if macro is None or unique_id in seen:
            return unique_id
        calls = sorted(macro.get("depends_on", {}).get("macros", []))
        memo[unique_id] = _sha([macro.get("macro_sql", ""), *(macro_digest(c, seen | {unique_id}) for c in calls)])
        return memo[unique_id]

    out = {}
    for unique_id, node in manifest.get("nodes", {}).items():
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        calls = sorted(node.get("depends_on", {}).get("macros", []))
        out[unique_id] = _sha(
            [
                node.get("checksum", {}).get("checksum", ""),
                json.dumps(node.get("config", {}), sort_keys=True, default=str),
                *(macro_digest(c, frozenset()) for c in calls),
            ]
        )
    return out


def rebuild_needed(manifest: Mapping[str, Any], before: Mapping[str, str]) -> list[str]:
    """Incremental models whose own code, or an ancestor's, changed since `before` (by name, sorted): an
    incremental run would keep rows the old code wrote, so they need a full refresh. None when nothing was
    recorded (the first build under the ledger)."""
    if not before:
        return []
    nodes = manifest.get("nodes", {})
    current = node_digests(manifest)
    changed = {uid for uid, digest in current.items() if before.get(uid) != digest}
    children: dict[str, list[str]] = defaultdict(list)
    for uid, node in nodes.items():
        for parent in node.get("depends_on", {}).get("nodes", []):
            children[parent].append(uid)
    reached, stack = set(changed), list(changed)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in reached:
                reached.add(child)
                stack.append(child)
    return sorted(
        nodes[uid]["name"]
        for uid in reached
        if uid in nodes
        and nodes[uid]["resource_type"] == "model"
        and nodes[uid].get("config", {}).get("materialized") == "incremental"
    )
