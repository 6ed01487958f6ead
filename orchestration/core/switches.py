"""Which sources are on: the one answer dbt (vars `<source>_enabled`), Dagster and the CLI share.

A source is on once something of it has been loaded (an active load in `raw.load_ledger`), so a warehouse
that holds only a Pipedrive export builds only the Pipedrive branch, and loading the other source later
switches it on for the next build. FUNNEL_SOURCES (e.g. `pipedrive` or `pipedrive,field_crm`) overrides the
ledger; FUNNEL_<SOURCE>_ENABLED=true|false overrides one source; plain dbt takes `--vars '{<source>_enabled:
false}'`. dbt reads the FUNNEL_<SOURCE>_ENABLED variables this module sets (dbt_project.yml,
macros/source_enabled.sql).
"""

from __future__ import annotations

import os

import psycopg

from orchestration.core.contracts import SOURCES
from orchestration.core.errors import FunnelError
from orchestration.core.settings import Connection, connection


def switch_variable(source: str) -> str:
    return f"FUNNEL_{source.upper()}_ENABLED"


def loaded_sources(conn: Connection | None = None) -> list[str] | None:
    """Sources with at least one active load, in contract order; None when the warehouse cannot be asked."""
    try:
        with psycopg.connect((conn or connection()).url(), connect_timeout=5) as db:
            if db.execute("select to_regclass('raw.load_ledger') is null").fetchone() == (True,):
                return []
            rows = db.execute("select distinct source from raw.load_ledger where superseded_by is null").fetchall()
    except psycopg.Error:
        return None
    found = {row[0] for row in rows}
    return [source for source in SOURCES if source in found]


def _declared() -> list[str] | None:
    text = os.environ.get("FUNNEL_SOURCES", "").strip()
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SOURCES]
    if unknown:
        raise FunnelError(f"FUNNEL_SOURCES={text!r} names unknown source(s) {unknown}", f"use {', '.join(SOURCES)}")
    return names


def enabled_sources(conn: Connection | None = None) -> list[str]:
    """FUNNEL_SOURCES, else the loaded sources, else (empty or unreachable warehouse) every source."""
    declared = _declared()
    if declared is not None:
        chosen = declared
    else:
        loaded = loaded_sources(conn)
        chosen = loaded if loaded else list(SOURCES)
    return [source for source in SOURCES if _override(source, source in chosen)]


def _override(source: str, default: bool) -> bool:
    """FUNNEL_<SOURCE>_ENABLED set by the user wins over FUNNEL_SOURCES and the ledger."""
    value = os.environ.get(switch_variable(source), "").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    return default


def switch_env(conn: Connection | None = None) -> dict[str, str]:
    """FUNNEL_<SOURCE>_ENABLED for every source, as dbt reads them."""
    on = enabled_sources(conn)
    return {switch_variable(source): "true" if source in on else "false" for source in SOURCES}


def sources_line() -> str:
    """Which sources this build covers, and why; refuses an empty warehouse in one line."""
    loaded = loaded_sources()
    if loaded == []:
        raise FunnelError(
            f"nothing is loaded in database {connection().dbname!r}: there is nothing to build",
            "load an export (funnel load DIR --source pipedrive|field_crm) or run `funnel up` for sample data",
        )
    on = enabled_sources()
    off = [source for source in SOURCES if source not in on]
    return f"sources: {', '.join(on) or 'none'}" + (
        f" (off: {', '.join(off)}; set FUNNEL_SOURCES to choose)" if off else ""
    )
