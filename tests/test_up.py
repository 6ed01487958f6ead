"""`funnel up` from nothing, against an external server given by FUNNEL_DATABASE_URL: builds there, starts nothing,
a second run is idempotent, and a run after the code changed (an upgrade) rebuilds from scratch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import UNIT_TESTS_OFF

MART_QUERY = """
select table_name from information_schema.tables where table_schema = 'dev_marts' order by 1
"""


def snapshot(wh, table: str) -> Counter[str]:
    """A mart's rows as a multiset (rows may hold lists, so they are compared by their text)."""
    return Counter(repr(row) for row in wh.query(f"select * from dev_marts.{table}"))


def test_up_on_an_external_database_is_complete_and_idempotent(wh, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {  # with the unit tests (tests/conftest.py)
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "FUNNEL_")) and k != UNIT_TESTS_OFF},
        "FUNNEL_DATABASE_URL": wh.conn.url(),
        "FUNNEL_HOME": str(home),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "FUNNEL_DAGSTER_REPORT": "off",  # tests/test_dagster_report.py covers the record
    }
    cmd = [sys.executable, "-m", "orchestration.cli", "up", "--source-dt", "2026-01-15"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "external server" in first.stdout
    assert not (home / "pgdata").exists(), "an embedded server was initialised although a URL was given"
    assert "== summary" in first.stdout and wh.conn.url(masked=True) in first.stdout
    assert wh.conn.password not in first.stdout, "the summary shows the database password"
    marts = [r[0] for r in wh.query(MART_QUERY)]
    assert "rep_sales_funnel_monthly" in marts
    assert wh.scalar("select count(*) from dev_marts.rep_sales_funnel_monthly") > 0
    for table in marts:
        assert f"  {table} " in first.stdout
    before = {t: snapshot(wh, t) for t in marts}

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "warehouse holds loads of pipedrive, field_crm: no sample data added" in second.stdout
    assert "up to date: nothing changed since the last build" in second.stdout
    assert {t: snapshot(wh, t) for t in marts} == before

    # As after an upgrade: the last build was made by other code, whose daily table had other columns.
    state_file = home / "last_up.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "code": "an earlier version", "fingerprint": "of that version"}))
    wh.query("alter table dev_intermediate.int_deal_stats_daily drop column deal_id")
    upgraded = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert upgraded.returncode == 0, upgraded.stdout[-3000:] + upgraded.stderr[-3000:]
    assert "code changed since the last build: rebuilding everything (--full-refresh)" in upgraded.stdout
    assert {t: snapshot(wh, t) for t in marts} == before
    assert json.loads(state_file.read_text())["code"] != "an earlier version"
