"""Running dbt for this project: the right project, profile, connection and validated vars."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import overload
from zoneinfo import ZoneInfo, available_timezones

from orchestration.core.errors import FunnelError
from orchestration.core.settings import DBT_PROJECT_DIR, REPO_ROOT, Connection, connection
from orchestration.core.switches import switch_env

DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Run vars travel as FUNNEL_VAR_<NAME> environment variables (var_env), but for those that decide what a
# model reads (var regions puts refs under a condition): dbt must see them while it parses, as --vars.
VAR_ENV_PREFIX = "FUNNEL_VAR_"
PARSE_VARS = frozenset({"regions"})
REGIONS_SEED = REPO_ROOT / "seeds" / "compliance" / "compliance_regions.csv"


def parse_source_dt(value: str, name: str = "source_dt") -> date:
    """Strict YYYY-MM-DD; anything else (including SQL) is refused before it can reach dbt."""
    text = value.strip()
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise FunnelError(f"{name}={value!r} is not a date", "use YYYY-MM-DD, e.g. 2024-06-30") from None


@overload
def parse_int(value: str | int, name: str, minimum: int | None = None) -> int: ...
@overload
def parse_int(value: None, name: str, minimum: int | None = None) -> None: ...
@overload
def parse_int(value: str | int | None, name: str, minimum: int | None = None) -> int | None: ...
def parse_int(value: str | int | None, name: str, minimum: int | None = None) -> int | None:
    """Whole numbers from the command line, refused with a message that names the value."""
    if value is None or isinstance(value, int):
        number = value
    elif re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        number = int(value.strip())
    else:
        raise FunnelError(f"{name}={value!r} is not a whole number", f"e.g. --{name.replace('_', '-')} 3")
    if number is not None and minimum is not None and number < minimum:
        raise FunnelError(f"{name}={number} is out of range", f"use a number >= {minimum}")
    return number


def parse_regions(text: str) -> list[str]:
    """`eu,uk` -> ["eu", "uk"] (var regions); each a region code of seeds/compliance/compliance_regions.csv."""
    codes = [code.strip().lower() for code in text.split(",") if code.strip()]
    bad = [code for code in codes if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", code)]
    if not codes or bad:
        raise FunnelError(f"regions={text!r} is not a list of region codes", "e.g. --regions eu or --regions eu,uk")
    known = region_codes()
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise FunnelError(
            f"unknown region code(s) {', '.join(unknown)}: not in seeds/compliance/compliance_regions.csv",
            f"use one of: {', '.join(known)}",
        )
    return codes


def region_codes() -> list[str]:
    """The region codes of the regions seed, in its order."""
    with REGIONS_SEED.open(newline="", encoding="utf-8") as fh:
        return [row["region"].strip().lower() for row in csv.DictReader(fh) if row.get("region", "").strip()]


def dbt_vars(
    source_dt: str | date | None = None,
    backfill_period: int | None = None,
    months: int | None = None,
    timezone: str | None = None,
) -> dict[str, object]:
    """The `--vars` of a run, each validated with a message that names the value."""
    out: dict[str, object] = {}
    if source_dt is not None:
        out["source_dt"] = (source_dt if isinstance(source_dt, date) else parse_source_dt(source_dt)).isoformat()
    if backfill_period is not None:
        if backfill_period < 0 or backfill_period > 36_600:
            raise FunnelError(f"backfill_period={backfill_period} is out of range", "use 0..36600 days")
        out["backfill_period"] = backfill_period
    if months is not None:
        if months < 1 or months > 1200:
            raise FunnelError(f"months={months} is out of range", "use 1..1200, or leave it unset for all history")
        out["months"] = months
    if timezone is not None:
        if timezone not in available_timezones():
            raise FunnelError(f"timezone={timezone!r} is not an IANA time zone", "e.g. UTC or Europe/Berlin")
        ZoneInfo(timezone)
        out["business_timezone"] = timezone
    return out


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def profile_targets() -> list[str]:
    """The targets of the project's dbt profile (profiles.yml): dev, ci, prod."""
    import yaml

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    return sorted(profile["funnel"]["outputs"])


def check_target(target: str) -> str:
    """The target, if the profile has it; else one clear error instead of dbt's multi-line one."""
    targets = profile_targets()
    if target not in targets:
        raise FunnelError(
            f"no dbt target {target!r} in profiles.yml", f"use one of {', '.join(targets)} (--target or FUNNEL_TARGET)"
        )
    return target


def var_env(variables: Mapping[str, object] | None) -> dict[str, str]:
    """A run's vars as the FUNNEL_VAR_<NAME> environment variables the project reads at execution only
    (macros/incremental_window.sql: run_var): `--vars` that differ from the last parse make dbt re-parse the whole
    project, so a new source_dt every day would cost a full parse every day. PARSE_VARS are left out."""
    return {VAR_ENV_PREFIX + k.upper(): str(v) for k, v in (variables or {}).items() if k not in PARSE_VARS}


@contextmanager
def run_var_environ(variables: Mapping[str, object] | None) -> Iterator[None]:
    """This process's environment carries exactly these run vars while the block runs (for dbt invocations that
    copy os.environ, such as dagster-dbt's)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(VAR_ENV_PREFIX)}
    for key in saved:
        del os.environ[key]
    os.environ.update(var_env(variables))
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(VAR_ENV_PREFIX)]:
            del os.environ[key]
        os.environ.update(saved)


def dbt_env(
    conn: Connection | None = None,
    target: str | None = None,
    schema: str | None = None,
    variables: Mapping[str, object] | None = None,
) -> dict[str, str]:
    """The environment of every dbt run: connection, target, schema, the source switches of this warehouse and
    the run's vars (only these: a FUNNEL_VAR_ left in the shell does not leak into the run)."""
    conn = conn or connection()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(VAR_ENV_PREFIX)}
    env = {**inherited, **conn.env(), **switch_env(conn), **var_env(variables)}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if target or env.get("FUNNEL_TARGET"):
        env["FUNNEL_TARGET"] = check_target(target or env["FUNNEL_TARGET"])
    if schema:
        env["FUNNEL_DB_SCHEMA"] = schema
    return env


def dbt_command(args: list[str], variables: Mapping[str, object] | None = None) -> list[str]:
    """A dbt command line of this project: the PARSE_VARS of `variables` as --vars, the rest go in the
    environment (dbt_env)."""
    parse_vars = {k: v for k, v in (variables or {}).items() if k in PARSE_VARS}
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return cmd + (["--vars", json.dumps(parse_vars)] if parse_vars else [])


def run_dbt(
    args: list[str],
    variables: dict[str, object] | None = None,
    *,
    conn: Connection | None = None,
    target: str | None = None,
    schema: str | None = None,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command as a subprocess (its own logs stream to the console unless captured)."""
    return subprocess.run(
        dbt_command(args, variables),
        env=dbt_env(conn, target, schema, variables),
        cwd=DBT_PROJECT_DIR,
        text=True,
        capture_output=capture,
        check=False,
    )
