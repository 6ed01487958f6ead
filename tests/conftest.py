"""Shared fixtures: a real PostgreSQL (the embedded one unless FUNNEL_DATABASE_URL / PG* say otherwise),
one throw-away database per test module, dbt runs against it, and the shared real export when present."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestration.core import warehouse
from orchestration.core.dbt import run_dbt
from orchestration.core.settings import REPO_ROOT, Connection
from orchestration.ingest.loader import FileResult, load_directory

# The heaviest test files first (measured, most expensive first). pytest-xdist (--dist loadfile) hands files to
# the workers in collection order: a heavy file collected last runs alone at the end while the other worker
# idles, which cost `make test` minutes.
HEAVY_FIRST = [
    "test_build_state.py",
    "test_privacy.py",
    "test_reliability_properties.py",
    "test_reliability_reconcile.py",
    "test_single_source_field_crm.py",
    "test_single_source_pipedrive_real.py",
    "test_kpi_field_service.py",
    "test_up.py",
    "test_pipedrive_incremental.py",
    "test_single_source_pipedrive_generated.py",
    "test_keyed_field_service.py",
    "test_dagster_runs.py",
    "test_dagster_report.py",
    "test_pipedrive_funnel.py",
    "test_kpi_pipedrive.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


SHARED_EXPORT = REPO_ROOT.parent / "shared" / "data" / "pipedrive_enpal"

# CLI builds in tests do not record themselves in a Dagster instance in the background
# (tests/test_dagster_report.py records synchronously and checks what it wrote).
os.environ.setdefault("FUNNEL_DAGSTER_REPORT", "off")

# dbt's log file at info, not debug: writing every statement of hundreds of dbt runs cost the suite a fifth of
# its time (a failing run's output is in the test's report; DBT_LOG_LEVEL_FILE=debug brings the statements back).
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "info")

# dbt unit tests read fixtures written in the project, not the warehouse: they run in the builds of test_up.py
# (the whole project, both sources) and test_build_state.py, not in each of the suite's hundreds of builds.
UNIT_TESTS_OFF = "DBT_EXCLUDE_RESOURCE_TYPES"
os.environ.setdefault(UNIT_TESTS_OFF, "unit_test")

# Parallel workers (pytest -n, pytest-xdist) share the server but not dbt's artifacts, logs or GX results:
# each worker writes them to folders of its own.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ.setdefault("DBT_TARGET_PATH", str(REPO_ROOT / "dbt_project" / "target" / f"xdist-{_WORKER}"))
    os.environ.setdefault("DBT_LOG_PATH", str(REPO_ROOT / "dbt_project" / "logs" / f"xdist-{_WORKER}"))
    os.environ.setdefault("FUNNEL_GX_HOME", str(REPO_ROOT / ".local" / f"gx-{_WORKER}"))


@pytest.fixture(scope="session")
def server() -> Connection:
    """The server every test uses; started once (idempotent if already running)."""
    return warehouse.start()


class Warehouse:
    """A database of its own on the test server, with helpers to load, build and query it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def query(self, statement: str, params: tuple[object, ...] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conn.url(), autocommit=True) as db:
            cur = db.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, statement: str, params: tuple[object, ...] | None = None) -> Any:
        rows = self.query(statement, params)
        return rows[0][0] if rows else None

    def dbt(
        self,
        *args: str,
        variables: dict[str, object] | None = None,
        schema: str = "dev",
        expect_ok: bool = True,
    ) -> str:
        """Run dbt against this database; return its output; fail the test with that output on error."""
        result = run_dbt(list(args), variables, conn=self.conn, target="dev", schema=schema, capture=True)
        output = result.stdout + result.stderr
        if expect_ok and result.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed:\n{output[-4000:]}")
        return output

    def load(self, directory: Path, source: str, **kwargs: Any) -> list[FileResult]:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self.conn.env().items():
                mp.setenv(key, value)
            mp.setenv("FUNNEL_DB_NAME", self.conn.dbname)
            return load_directory(directory, source, **kwargs)


# Test databases in use by this process (slots of database_name).
_SLOTS_IN_USE: set[int] = set()


def database_name(name: str) -> tuple[str, int | None]:
    """A database name for a warehouse, and the slot it holds: the first slot this process has free, not the
    module's name. dbt's partial parse is keyed on the profile, the database name included, so a module that
    takes the name the previous module used parses the project in about a second instead of six (a full parse
    of every module cost the suite minutes). Databases kept after the run (FUNNEL_KEEP_TEST_DBS) are named
    after their module."""
    if os.environ.get("FUNNEL_KEEP_TEST_DBS"):
        return "t_" + re.sub(r"[^a-z0-9_]", "_", name.lower())[:50], None
    slot = next(i for i in range(len(_SLOTS_IN_USE) + 1) if i not in _SLOTS_IN_USE)
    _SLOTS_IN_USE.add(slot)
    return f"t_{_WORKER or 'main'}_{slot}", slot


def make_warehouse(server: Connection, name: str) -> Iterator[Warehouse]:
    dbname, slot = database_name(name)
    conn = server.with_database(dbname)
    warehouse.drop_database(conn)
    warehouse.ensure_database(conn)
    previous = os.environ.get("FUNNEL_DB_NAME")
    os.environ["FUNNEL_DB_NAME"] = dbname
    try:
        yield Warehouse(conn)
    finally:
        if previous is None:
            os.environ.pop("FUNNEL_DB_NAME", None)
        else:
            os.environ["FUNNEL_DB_NAME"] = previous
        if slot is not None:
            warehouse.drop_database(conn)
            _SLOTS_IN_USE.discard(slot)


@pytest.fixture(scope="module")
def wh(server: Connection, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """A fresh database for this test module (kept after the run if FUNNEL_KEEP_TEST_DBS is set)."""
    yield from make_warehouse(server, request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="session")
def shared_export() -> Path:
    """The real Pipedrive export beside the repo; skipped without it, but required in CI."""
    if (SHARED_EXPORT / "deal_changes.csv").exists():
        return SHARED_EXPORT
    if os.environ.get("CI"):
        pytest.fail(f"CI must have the shared export at {SHARED_EXPORT}")
    pytest.skip(f"needs the real export at {SHARED_EXPORT} (../shared beside the repo; present in CI)")
