"""Shared by the single-source tests (test_single_source_*.py): every source is optional, so a warehouse holding
one source must build, check, reconcile and run in Dagster.

Each scenario has a database of its own and drives the product as a user does: `funnel up --data`, `funnel
load`, `funnel build`, `funnel reconcile` and the Dagster daily job, each in a real subprocess (the Dagster code
location reads the switches from that warehouse's ledger when it loads, as it does in `funnel ui`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import Warehouse, make_warehouse

from orchestration.core.settings import Connection

SOURCE_DT = date(2025, 3, 31)
PARTITION = "2025-03-31"


def scenario(
    server: Connection, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[tuple[Warehouse, dict[str, str], Path]]:
    """A scenario's own database, a folder for its files and a user's shell (user_env) pointed at both."""
    for wh in make_warehouse(server, f"single_{name}"):
        tmp = tmp_path_factory.mktemp(name)
        yield wh, user_env(wh, tmp), tmp


def user_env(wh: Warehouse, tmp: Path) -> dict[str, str]:
    """A user's shell pointed at this warehouse: no switches set by hand, own home and dbt target folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "FUNNEL_"))}
    return {
        **env,
        "FUNNEL_DATABASE_URL": wh.conn.url(),
        "FUNNEL_HOME": str(tmp / "home"),
        "DBT_TARGET_PATH": str(tmp / "target"),
        "FUNNEL_DAGSTER_REPORT": "off",  # tests/test_dagster_report.py covers the record
    }


def funnel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def failures(out: str) -> list[str]:
    """The summary's failure lines: `failed: <node>` and layers with failed nodes (not the progress line)."""
    return [
        line
        for line in out.splitlines()
        if line.startswith("failed:") or (" failed" in line and not line.lstrip().startswith("building:"))
    ]


def schemas(wh: Warehouse) -> set[str]:
    return {str(r[0]) for r in wh.query("select table_schema || '.' || table_name from information_schema.tables")}
