"""The `funnel` command line: real subprocesses, one-line errors for user mistakes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestration.core.settings import connection

FUNNEL = [sys.executable, "-m", "orchestration.cli"]


def funnel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FUNNEL, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


def psql_binary() -> str:
    from orchestration.core.warehouse import _bin

    return _bin("psql")


def test_db_url_is_accepted_by_psql(wh) -> None:
    result = funnel("db", "url")
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith("postgresql://") and url.endswith(f"/{wh.conn.dbname}")
    answer = subprocess.run(
        [psql_binary(), url, "-tAc", "select current_database()"], capture_output=True, text=True, check=True
    )
    assert answer.stdout.strip() == wh.conn.dbname


def test_status_names_the_server(wh) -> None:
    result = funnel("db", "status")
    assert result.returncode == 0
    assert f":{connection().port}" in result.stdout


def test_user_errors_are_one_clear_line(wh, tmp_path: Path) -> None:
    cases = [
        (
            ("build", "--source-dt", "2024-01-01'; drop table x; --"),
            'source_dt="2024-01-01\'; drop table x; --"',
        ),
        (("build", "--source-dt", "2024-02-30"), "source_dt='2024-02-30' is not a date"),
        (("build", "--backfill-period", "-1"), "backfill_period=-1 is out of range"),
        (("build", "--timezone", "Mars/Base"), "timezone='Mars/Base' is not an IANA time zone"),
        (("build", "--target", "staging"), "no dbt target 'staging' in profiles.yml"),
        (("build", "--regions", "atlantis"), "unknown region code(s) atlantis: not in seeds/compliance"),
        (("up", "--data", str(tmp_path)), "--data and --source go together"),
        (("load", str(tmp_path / "nope"), "--source", "pipedrive"), "is not a directory"),
        (("load", str(tmp_path), "--source", "salesforce"), "unknown source 'salesforce'"),
        (("load", str(tmp_path), "--source", "pipedrive"), "no pipedrive files in"),
    ]
    for args, message in cases:
        result = funnel(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ") and "hint: " in result.stderr
        assert len(result.stderr.strip().splitlines()) == 2, (args, result.stderr)  # the error and its hint


def test_generate_then_load_reports_every_file(wh, tmp_path: Path) -> None:
    out = tmp_path / "pd"
    generated = funnel(
        "generate", "pipedrive", "--out", str(out), "--deals", "50", "--seed", "3", "--end", "2024-06-30"
    )
    assert generated.returncode == 0, generated.stderr
    loaded = funnel("load", str(out), "--source", "pipedrive")
    assert loaded.returncode == 0, loaded.stderr
    for name in (
        "deal_changes.csv",
        "activity.csv",
        "users.csv",
        "stages.csv",
        "fields.csv",
        "activity_types.csv",
    ):
        assert name in loaded.stdout
    again = funnel("load", str(out), "--source", "pipedrive")
    assert again.stdout.count("skipped") == 6
    # a file edited after loading is refused, with a hint
    (out / "stages.csv").write_text("stage_id,stage_name\n1,Lead Generation\n")
    changed = funnel("load", str(out), "--source", "pipedrive")
    assert changed.returncode == 1
    assert "changed since they were loaded: stages.csv" in changed.stderr
    assert "--replace" in changed.stderr


def test_exit_codes_tell_outcomes_apart(wh, tmp_path: Path) -> None:
    """4: a file rejected entirely; 5: a selection that matches nothing (README "Exit codes")."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "bad_leads.csv").write_text("lead_id,quote_number,reason,flagged_at\nL1,Q1,spam,2024-01-02\n")
    (folder / "lost_leads.csv").write_text("wrong,header\n1,2\n")
    loaded = funnel("load", str(folder), "--source", "field_crm")
    assert loaded.returncode == 4, loaded.stdout + loaded.stderr
    assert "warning: 1 file(s) had rejects" in loaded.stderr and "raw.load_rejects" in loaded.stderr
    nothing = funnel("build", "--select", "doesnotexist")
    assert nothing.returncode == 5, nothing.stdout + nothing.stderr
    assert "the selection matched nothing to build" in nothing.stderr
    assert "Traceback" not in nothing.stderr + loaded.stderr
