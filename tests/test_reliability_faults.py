"""Fault injection: crashes and races leave the old state or the new one, and a rerun converges.

- a raw file truncated mid-line, or replaced by different content under the same name, is detected by its
  sha256 at `funnel load`, reported, and not loaded twice (fast);
- dbt SIGKILLed inside an incremental model's delete+insert (its window already deleted, the insert pending):
  the table is exactly the old state, and a rerun equals a full refresh (slow);
- the embedded PostgreSQL killed (SIGKILL, all its processes) in the middle of a run on its own server:
  restart, rerun, and the warehouse reconciles (slow);
- two runs on overlapping windows started together end equal to a full refresh (slow).

To hit "inside the delete+insert" deterministically, a test session holds an ACCESS EXCLUSIVE lock on the raw
deal changes: the model's pre-hook deletes its window, then building the new rows blocks on the raw table.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest
from conftest import make_warehouse
from dbt_helpers import checksum
from psycopg import sql

from orchestration.core import warehouse
from orchestration.core.dbt import dbt_command, dbt_env, dbt_vars
from orchestration.core.errors import FunnelError
from orchestration.core.settings import REPO_ROOT, Connection
from orchestration.ingest.generators.pipedrive import generate_pipedrive
from orchestration.ops.reconcile import format_report, reconcile

FUNNEL = [sys.executable, "-m", "orchestration.cli"]
CHAIN = "+staging.pipedrive +int_funnel_stats_monthly +rep_sales_funnel_monthly"
INCREMENTAL_CHAIN = "config.materialized:incremental,staging.pipedrive+"
D0, D1 = date(2025, 3, 20), date(2025, 3, 24)


def funnel(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FUNNEL, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=600, check=False
    )


def db_env(conn: Connection) -> dict[str, str]:
    return {**conn.env(), "FUNNEL_DB_NAME": conn.dbname}


def start_dbt(conn: Connection, select: str, source_dt: date, backfill: int = 3) -> subprocess.Popen[str]:
    args = ["run", "--select", select, "--target-path", f"/tmp/funnel-fault-{os.getpid()}-{time.monotonic_ns()}"]
    return subprocess.Popen(
        dbt_command(args),
        env=dbt_env(conn, "dev", "dev", dbt_vars(source_dt, backfill)),
        cwd=REPO_ROOT / "dbt_project",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def blocked_backends(conn: Connection) -> list[tuple[int, str]]:
    """dbt's backends waiting on a lock in this database (pid, query)."""
    with psycopg.connect(conn.url(), autocommit=True) as db:
        return db.execute(
            "select pid, query from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock' and pid <> pg_backend_pid()"
        ).fetchall()


def lock_raw(conn: Connection) -> psycopg.Connection:
    """A session holding ACCESS EXCLUSIVE on the deal changes the incremental chain reads (the indexed staging
    table built from raw) until it is rolled back / closed."""
    gate = psycopg.connect(conn.url())
    gate.execute("lock table dev_staging.stg_pipedrive__deal_changes in access exclusive mode")
    return gate


# ---------------------------------------------------------------- checksum at the CLI (fast)


def test_truncated_or_replaced_file_is_detected_not_double_loaded(wh, tmp_path) -> None:
    env = db_env(wh.conn)
    export = tmp_path / "export"
    generate_pipedrive(export, deals=30, seed=2, end=D1, days=30)
    first = funnel("load", str(export), "--source", "pipedrive", env=env)
    assert first.returncode == 0, first.stderr
    rows = wh.scalar("select count(*) from raw_pipedrive.deal_changes")
    again = funnel("load", str(export), "--source", "pipedrive", env=env)
    assert again.returncode == 0 and "skipped" in again.stdout, again.stdout
    assert wh.scalar("select count(*) from raw_pipedrive.deal_changes") == rows

    path = export / "deal_changes.csv"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2 + 7])  # truncated in the middle of a line
    truncated = funnel("load", str(export), "--source", "pipedrive", env=env)
    assert truncated.returncode == 1
    assert "deal_changes.csv" in truncated.stderr and "changed since they were loaded" in truncated.stderr
    assert "content differs from load" in truncated.stdout and "sha256" in truncated.stdout
    assert wh.scalar("select count(*) from raw_pipedrive.deal_changes") == rows  # nothing loaded twice

    path.write_bytes(content.replace(b",stage_id,", b",stage_ix,", 1))  # same name, same size, other content
    assert len(path.read_bytes()) == len(content)
    replaced = funnel("load", str(export), "--source", "pipedrive", env=env)
    assert replaced.returncode == 1 and "changed since they were loaded" in replaced.stderr
    assert wh.scalar("select count(*) from raw_pipedrive.deal_changes") == rows

    ok = funnel("load", str(export), "--source", "pipedrive", "--replace", env=env)
    assert ok.returncode == 0 and "replaced" in ok.stdout, ok.stdout
    assert wh.scalar("select count(*) from raw_pipedrive.deal_changes") == rows  # superseded, not added
    active = wh.query(
        "select count(*), sum(rows_loaded + rows_rejected) from raw.load_ledger"
        " where table_name = 'deal_changes' and superseded_by is null"
    )
    assert active == [(1, rows)]


# ---------------------------------------------------------------- dbt killed mid-transaction (slow)


@pytest.fixture(scope="module")
def built(server, tmp_path_factory):
    """A database of its own: generated Pipedrive data, the incremental chain fully refreshed at D0 (schema dev)."""
    export = tmp_path_factory.mktemp("faults_pd")
    generate_pipedrive(export, deals=150, seed=8, end=D1, days=60)
    for wh in make_warehouse(server, "reliability_faults_built"):
        wh.load(export, "pipedrive")
        wh.dbt("build", "--select", CHAIN, "--exclude", "resource_type:test", "--full-refresh", variables=dbt_vars(D0))
        yield wh


@pytest.mark.slow
def test_dbt_sigkill_inside_delete_insert_leaves_old_state_and_rerun_converges(built) -> None:
    wh = built
    table = "dev_intermediate.int_deal_stats_daily"
    before = checksum(wh, table)
    gate = lock_raw(wh.conn)
    try:
        run = start_dbt(wh.conn, "int_deal_stats_daily", D1)
        wait_for(lambda: blocked_backends(wh.conn), what="dbt to block inside the model's transaction")
        (pid, _query), *_ = blocked_backends(wh.conn)
        # Its pre-hook already deleted the window (uncommitted): other sessions still see the old rows.
        with psycopg.connect(wh.conn.url(), autocommit=True) as db:
            deleting = warehouse.scalar(
                db,
                "select count(*) from pg_locks where pid = %s and relation = %s::regclass"
                " and mode = 'RowExclusiveLock'",
                (pid, table),
            )
            assert deleting == 1, "dbt is not inside the model's delete+insert transaction"
            in_window = warehouse.scalar(db, f"select count(*) from {table} where date_day >= %s", (D0,))
            assert in_window > 0
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        gate.rollback()
        gate.close()
    wait_for(lambda: not wh.scalar("select count(*) from pg_stat_activity where pid = %s", (pid,)), what="rollback")
    assert checksum(wh, table) == before, "a killed run left a half-written table"
    wh.dbt("run", "--select", INCREMENTAL_CHAIN, variables=dbt_vars(D1, 3))
    report = reconcile(source_dt=D1.isoformat(), conn=wh.conn)
    assert report.ok, format_report(report)


@pytest.mark.slow
def test_overlapping_runs_started_together_equal_a_full_refresh(built) -> None:
    wh = built
    gate = lock_raw(wh.conn)
    try:
        runs = [start_dbt(wh.conn, INCREMENTAL_CHAIN, D1, backfill) for backfill in (2, 6)]
        wait_for(lambda: len(blocked_backends(wh.conn)) >= 2, what="both runs to be inside their transactions")
    finally:
        gate.rollback()
        gate.close()
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
    report = reconcile(source_dt=D1.isoformat(), conn=wh.conn)
    assert report.ok, format_report(report)


# ---------------------------------------------------------------- PostgreSQL killed (slow, own server)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_pids(pgdata: Path) -> list[int]:
    """The postmaster of this data directory and its children."""
    postmaster = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster, *map(int, children)]


def process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def crash(pgdata: Path) -> None:
    """SIGKILL the server and every backend, like a power cut. Where PID 1 does not reap orphans (containers
    without an init), the dead postmaster stays a zombie that `pg_ctl status` takes for a running server:
    then its postmaster.pid goes too, as after the reboot that follows a real crash."""
    pids = server_pids(pgdata)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(process_state(pid) in (None, "Z") for pid in pids), 30, "the server processes to die")
    if any(process_state(pid) == "Z" for pid in pids):
        (pgdata / "postmaster.pid").unlink()


@pytest.mark.slow
def test_postgres_killed_mid_run_restarts_and_converges(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    env = {"FUNNEL_HOME": str(home), "FUNNEL_PG_PORT": str(free_port()), "FUNNEL_DB_NAME": "crash"}
    for key in ("FUNNEL_DATABASE_URL", "PGHOST"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from orchestration.core import warehouse

    conn = warehouse.start()
    try:
        export = tmp_path / "export"
        generate_pipedrive(export, deals=150, seed=9, end=D1, days=60)
        assert funnel("load", str(export), "--source", "pipedrive", env=env).returncode == 0
        first = funnel("build", "--select", CHAIN, "--exclude", "resource_type:test", "--full-refresh",
                       "--source-dt", D0.isoformat(), env=env)  # fmt: skip
        assert first.returncode == 0, first.stdout[-3000:]
        gate = lock_raw(conn)
        run = start_dbt(conn, INCREMENTAL_CHAIN, D1)
        wait_for(lambda: blocked_backends(conn), what="dbt inside a model's transaction")
        crash(warehouse.pgdata())
        run.wait(timeout=120)
        assert run.returncode != 0
        with pytest.raises(psycopg.Error):
            gate.execute("select 1")
        gate.close()
        warehouse.start()  # crash recovery
        rerun = funnel("build", "--select", INCREMENTAL_CHAIN, "--source-dt", D1.isoformat(), env=env)
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        report = reconcile(source_dt=D1.isoformat(), conn=conn)
        assert report.ok, format_report(report)
        with psycopg.connect(conn.url(), autocommit=True) as db:  # every table readable after recovery
            tables = db.execute(
                "select table_schema, table_name from information_schema.tables where table_schema like 'dev_%'"
                " and table_type = 'BASE TABLE'"
            ).fetchall()
            for schema, name in tables:
                db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name)))
    finally:
        try:
            warehouse.stop()
        except FunnelError:
            crash(warehouse.pgdata())
