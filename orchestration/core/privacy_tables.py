"""The privacy control tables (suppression list, append-only audit log): staging reads the suppression list, so
landing creates them with the raw tables, and purge/forget (orchestration.ops.privacy) write them."""

from __future__ import annotations

import psycopg

from orchestration.core import warehouse

PRIVACY_DDL = """
create schema if not exists privacy;
create table if not exists privacy.audit_log (
    audit_id bigserial primary key,
    logged_at timestamptz not null default clock_timestamp(),
    operation text not null check (operation in ('purge', 'forget')),
    requested_by text not null,
    scope text not null,
    rows_touched jsonb not null,
    total_rows bigint not null
);
create table if not exists privacy.suppressions (
    kind text not null check (kind in ('email', 'phone')),
    value_hash text not null,
    audit_id bigint not null references privacy.audit_log (audit_id),
    recorded_at timestamptz not null default now(),
    primary key (kind, value_hash)
);
create or replace function privacy.refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'privacy.audit_log is append-only: % refused', tg_op;
end;
$$;
create or replace trigger audit_log_append_only before update or delete on privacy.audit_log
    for each row execute function privacy.refuse_change();
create or replace trigger audit_log_no_truncate before truncate on privacy.audit_log
    for each statement execute function privacy.refuse_change();
"""


def ensure_privacy_tables(db: psycopg.Connection) -> None:
    """Create the privacy schema (suppressions, audit log); the loader calls it with the raw tables."""
    if warehouse.scalar(db, "select to_regclass('privacy.suppressions') is null"):
        db.execute(PRIVACY_DDL)
