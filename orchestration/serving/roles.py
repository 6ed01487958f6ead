"""Read-only roles: `bi_reader` (marts only) and `analyst` (intermediate, quality + marts), with passwords from
environment variables. What they may read is dbt's `grants` config (dbt_project.yml), applied by dbt on every
build; macros/grants/ skips roles a server does not have yet and grants USAGE on the schemas it grants in."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from orchestration.core.dbt import run_dbt
from orchestration.core.errors import FunnelError
from orchestration.core.settings import Connection, connection
from orchestration.core.warehouse import connect


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
