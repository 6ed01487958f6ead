"""`funnel up`: from nothing to a built, tested warehouse with sample data, then a summary of where to look."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import typer
from psycopg import sql

from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES, raw_schema
from orchestration.core.dbt import dbt_env, dbt_vars, parse_source_dt
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import run_results, today
from orchestration.core.settings import DBT_PROJECT_DIR, REPO_ROOT, funnel_home
from orchestration.core.switches import loaded_sources
from orchestration.ingest.loader import load_directory

SAMPLE_SIZES = {"pipedrive": 2000, "field_crm": 5000}


def _generate(source: str, out: Path, end: date) -> None:
    def progress(rows: int) -> None:
        typer.echo(f"\r  generating {source}: {rows:,} rows", nl=False)

    if source == "pipedrive":
        from orchestration.ingest.generators.pipedrive import generate_pipedrive

        generate_pipedrive(out, deals=SAMPLE_SIZES[source], seed=42, end=end, progress=progress)
    else:
        from orchestration.ingest.generators.field_crm import generate_field_crm

        generate_field_crm(out, leads=SAMPLE_SIZES[source], seed=42, end=end, progress=progress)
    typer.echo("")


def _mart_rows(schema: str) -> list[tuple[str, int]]:
    with warehouse.connect() as db:
        tables = [
            r[0]
            for r in db.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1",
                (schema,),
            ).fetchall()
        ]
        return [
            (t, int(warehouse.scalar(db, sql.SQL("select count(*) from {}").format(sql.Identifier(schema, t)))))
            for t in tables
        ]


def _code_fingerprint() -> str:
    """The project's code: models, macros, seeds and dbt_project.yml."""
    digest = hashlib.sha256()
    for folder in (DBT_PROJECT_DIR / "models", REPO_ROOT / "macros", REPO_ROOT / "seeds"):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.read_bytes())
    digest.update((DBT_PROJECT_DIR / "dbt_project.yml").read_bytes())
    return digest.hexdigest()


def _fingerprint(url: str, schema: str, reference: date, code: str) -> str:
    """What a build depends on: the server and schema, the reference date, the loads and the project's code."""
    digest = hashlib.sha256(f"{url}|{schema}|{reference}|{code}".encode())
    with warehouse.connect() as db:
        digest.update(str(db.execute("select max(load_id) from raw.load_ledger").fetchone()).encode())
    return digest.hexdigest()


def _land(source_dt: date, data: Path | None, source: str | None) -> None:
    """The user's export if given; else samples for every source, but only into a warehouse without loads."""
    if data is not None and source is not None:
        results = load_directory(data, source)
        rejected = sum(r.rows_rejected for r in results)
        typer.echo(
            f"{raw_schema(source)}: {sum(r.rows_loaded for r in results):,} rows loaded from {data}"
            + (f", {rejected:,} rejected (raw.load_rejects)" if rejected else "")
        )
        return
    loaded = loaded_sources() or []
    if loaded:
        typer.echo(f"warehouse holds loads of {', '.join(loaded)}: no sample data added")
        return
    for name in SOURCES:
        sample = funnel_home() / "sample" / name
        _generate(name, sample, source_dt)
        results = load_directory(sample, name)
        typer.echo(f"{raw_schema(name)}: loaded {sum(r.rows_loaded for r in results):,} sample rows from {sample}")


def _gx_checks(reference: date) -> list[Any]:
    """The Great Expectations checkpoints of the marts just built (as `funnel check`), in one line each failing."""
    from orchestration.cli.ui import run_gx_checks

    typer.echo("checking the marts with Great Expectations...")
    summary = run_gx_checks(reference)
    bad = [o for o in summary.outcomes if o.failed]
    typer.echo(
        f"GX: {len(summary.outcomes) - len(bad)} of {len(summary.outcomes)} checkpoints passed"
        + (f"; not passed: {', '.join(o.name for o in bad)} (funnel check shows why)" if bad else "")
    )
    return list(summary.outcomes)


def up(
    source_dt: str | None = None, *, data: Path | None = None, source: str | None = None, verbose: bool = False
) -> None:
    from orchestration.cli.console import record_in_dagster, run_build
    from orchestration.core.switches import sources_line

    started = time.monotonic()
    conn = warehouse.start()
    typer.echo(warehouse.status())
    reference = parse_source_dt(source_dt) if source_dt else today()
    _land(reference, data, source)
    typer.echo(sources_line())
    schema = f"{dbt_env().get('FUNNEL_DB_SCHEMA', 'dev')}_marts"
    code = _code_fingerprint()
    fingerprint = _fingerprint(conn.url(), schema, reference, code)
    state_file = funnel_home() / "last_up.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    returncode = 0
    outcomes: list[Any] = []
    report_text = ""
    if state.get("fingerprint") == fingerprint and _mart_rows(schema):
        typer.echo(f"up to date: nothing changed since the last build of {state['built_at']} (same data, code, date)")
    else:
        # Incremental tables keep the rows earlier runs wrote: after the code changed (an upgrade), rows outside
        # the window would stay as the old code computed them, and a changed column list fails the build.
        full_refresh = bool(state) and state.get("code") != code
        if full_refresh:
            typer.echo("the project's code changed since the last build: rebuilding everything (--full-refresh)...")
        else:
            typer.echo("building with dbt (seeds, models, tests)...")
        args = ["build", *(["--full-refresh"] if full_refresh else [])]
        variables = dbt_vars(reference)
        report = run_build(args, variables, verbose=verbose, say=typer.echo)
        returncode = report.returncode
        outcomes = _gx_checks(reference) if returncode == 0 else []
        record_in_dagster(variables, full_refresh, outcomes)
        report_text = "" if verbose else report.summary()
        results = run_results()
        statuses = Counter(str(r["status"]) for r in results)
        state = {
            "fingerprint": fingerprint if returncode == 0 else None,
            "code": code if returncode == 0 else state.get("code"),
            "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "built": sum(
                1 for r in results if str(r["unique_id"]).startswith(("model.", "seed.")) and r["status"] == "success"
            ),
            "tests": {k: v for k, v in statuses.items() if k in ("pass", "warn", "fail", "error")},
        }
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(state))
    typer.echo("")
    typer.echo("== summary " + "=" * 60)
    if report_text:
        typer.echo(report_text)
    else:
        tests = ", ".join(f"{v} {k}" for k, v in sorted(state["tests"].items()))
        typer.echo(f"models and seeds built: {state['built']}; tests: {tests}")
    typer.echo(f"marts in schema {schema}:")
    for table, rows in _mart_rows(schema):
        typer.echo(f"  {table:<36} {rows:>10,} rows")
    typer.echo(f"database: {conn.url(masked=True)}  (with the password: funnel db url)")
    typer.echo("next:  funnel ui     (Dagster: schedules, backfills, checks)")
    typer.echo("       funnel docs   (dbt docs site)")
    typer.echo(f"       psql \"$(funnel db url)\" -c 'select * from {schema}.rep_sales_funnel_monthly limit 20'")
    typer.echo(f"done in {time.monotonic() - started:.0f}s")
    if returncode != 0:
        raise FunnelError("dbt build reported errors", "see the failures above; `funnel up --verbose` shows dbt's log")
    if any(o.critical_failures for o in outcomes):
        raise FunnelError("a critical GX expectation failed", "`funnel check` lists them; Data Docs in $FUNNEL_HOME")
