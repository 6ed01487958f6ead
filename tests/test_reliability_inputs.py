"""Input validation: every run var and CLI argument is checked, the error names the value, and SQL in a var
never reaches the database — through `funnel build` (Python validation) and through plain `dbt --vars`
(the Jinja validation in macros/incremental_window.sql)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestration.core.dbt import dbt_vars
from orchestration.core.errors import FunnelError

INJECTION = "2024-01-01'; drop table x; --"
FUNNEL = [sys.executable, "-m", "orchestration.cli"]


def funnel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FUNNEL, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300, check=False
    )


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"source_dt": INJECTION}, f"source_dt={INJECTION!r}"),
        ({"source_dt": "2024-02-30"}, "source_dt='2024-02-30'"),
        ({"source_dt": "24-01-01"}, "source_dt='24-01-01'"),
        ({"source_dt": "２０２４-01-01"}, "source_dt="),  # noqa: RUF001 - unicode digits are refused
        ({"source_dt": ""}, "source_dt=''"),
        ({"backfill_period": -1}, "backfill_period=-1"),
        ({"backfill_period": 10**9}, "backfill_period=1000000000"),
        ({"months": 0}, "months=0"),
        ({"months": 5000}, "months=5000"),
        ({"timezone": "Mars/Olympus"}, "timezone='Mars/Olympus'"),
        ({"timezone": "UTC'; drop table x; --"}, 'timezone="UTC\'; drop table x; --"'),
    ],
)
def test_every_var_is_validated_naming_the_value(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(FunnelError) as caught:
        dbt_vars(**kwargs)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_valid_vars_pass_through() -> None:
    assert dbt_vars(" 2024-02-29 ", 0, 1, "Europe/Berlin") == {
        "source_dt": "2024-02-29",
        "backfill_period": 0,
        "months": 1,
        "business_timezone": "Europe/Berlin",
    }


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["build", "--source-dt", INJECTION], INJECTION),
        (["build", "--backfill-period", "-5"], "backfill_period=-5"),
        (["build", "--months", "0"], "months=0"),
        (["build", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
        (["build", "--backfill-period", "3; drop table x"], "3; drop table x"),
        (["generate", "nosuchcrm", "--out", "/tmp/funnel-never"], "nosuchcrm"),
        (["generate", "pipedrive", "--out", "/tmp/funnel-never", "--end", INJECTION], INJECTION),
        (["generate", "pipedrive", "--out", "/tmp/funnel-never", "--deals", "0"], "deals=0"),
        (["load", "/nonexistent/folder", "--source", "pipedrive"], "/nonexistent/folder"),
    ],
)
def test_cli_arguments_are_validated_naming_the_value(wh, args: list[str], named: str) -> None:
    wh.query("create table if not exists public.x (id int)")
    result = funnel(*args, env={"FUNNEL_DB_NAME": wh.conn.dbname})
    assert result.returncode != 0
    assert named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert wh.scalar("select to_regclass('public.x') is not null")


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"source_dt": INJECTION}, "source_dt="),
        ({"business_timezone": "UTC'; drop table x; --"}, "business_timezone="),
        pytest.param({"backfill_period": "3; drop table x"}, "backfill_period=", marks=pytest.mark.slow),
        pytest.param({"months": "1) or (1=1"}, "months=", marks=pytest.mark.slow),
    ],
)
def test_sql_in_plain_dbt_vars_never_reaches_the_database(wh, variables: dict[str, object], named: str) -> None:
    """Plain `dbt run --vars ...` bypasses the CLI: the macros refuse the value at compile time."""
    wh.query("create table if not exists public.x (id int)")
    output = wh.dbt("run", "--select", "int_deal_stats_daily", "--vars", json.dumps(variables), expect_ok=False)
    assert named in output, output[-2000:]
    (refused,) = variables.values()
    assert str(refused) in output  # the message quotes the value it refused
    assert wh.scalar("select to_regclass('public.x') is not null")
