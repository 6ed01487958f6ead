"""`funnel`: the command line of the product (database, sample data, loading, building)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli.console import record_in_dagster
from orchestration.cli.kpi import kpi_app
from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES
from orchestration.core.dbt import check_target, dbt_vars, parse_int, parse_regions, parse_source_dt, run_dbt
from orchestration.core.errors import ExitCode, FunnelError
from orchestration.core.manifest import read_manifest, today
from orchestration.core.settings import connection
from orchestration.core.switches import sources_line

if TYPE_CHECKING:
    from orchestration.core.build_state import BuildInputs

app = typer.Typer(
    help="Sales-funnel warehouse: land CRM exports, build them with dbt, run it with Dagster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The PostgreSQL warehouse (embedded unless FUNNEL_DATABASE_URL / PG* are set).")
app.add_typer(db_app, name="db")
app.add_typer(kpi_app, name="kpi")


def echo(message: str = "") -> None:
    typer.echo(message)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (no-op for an external one) and create the database."""
    conn = warehouse.start()
    echo(warehouse.status())
    echo(f"url: {conn.url()}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    echo("stopped" if warehouse.stop() else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say which server is used and whether the embedded one runs."""
    echo(warehouse.status())
    conn = connection()
    if conn.embedded and not warehouse.is_running():
        raise typer.Exit(ExitCode.SERVER_STOPPED)


@db_app.command("url")
def db_url() -> None:
    """Print a postgresql:// URL that psql and BI tools accept."""
    echo(connection().url())


@db_app.command("env")
def db_env() -> None:
    """Print `export` lines for plain dbt: eval "$(funnel db env)"."""
    for key, value in connection().env().items():
        echo(f"export {key}='{value}'")


@db_app.command("roles")
def db_roles(
    apply: Annotated[bool, typer.Option(help="Also apply the grants to what is already built")] = True,
    target: Annotated[str | None, typer.Option(help="dbt target whose relations get the grants")] = None,
) -> None:
    """Create the read-only roles bi_reader (marts) and analyst (intermediate, quality + marts).

    Passwords come from FUNNEL_BI_READER_PASSWORD / FUNNEL_ANALYST_PASSWORD; without one a new role cannot log in.
    """
    from orchestration.serving.roles import apply_grants, create_roles

    conn = warehouse.start()
    for role in create_roles(conn):
        state = "created" if role.created else "exists"
        login = "can log in" if role.can_login else "cannot log in (set its password variable and rerun)"
        echo(f"  {role.name:<10} {state:<8} {'password set; ' if role.password_set else ''}{login}")
    if apply:
        apply_grants(target, conn)
        echo("grants applied to the relations already built (dbt applies them on every build too)")


def _progress(label: str) -> Callable[[int], None]:
    def report(rows: int) -> None:
        typer.echo(f"\r{label}: {rows:,} rows", nl=False, err=True)

    return report


@app.command()
def generate(
    source: Annotated[str, typer.Argument(help="pipedrive or field_crm")],
    out: Annotated[Path, typer.Option(help="Folder to write the CSV files to")],
    deals: Annotated[str, typer.Option(help="Deals (pipedrive)")] = "2000",
    leads: Annotated[str, typer.Option(help="Leads (field_crm)")] = "5000",
    seed: Annotated[str, typer.Option(help="Random seed: same seed, same files")] = "42",
    end: Annotated[str | None, typer.Option(help="Last day of history, YYYY-MM-DD (default today)")] = None,
    days: Annotated[str, typer.Option(help="Days of history")] = "540",
) -> None:
    """Write a seeded synthetic export of SOURCE that follows its file contract."""
    last = parse_source_dt(end, "end") if end else today()
    n_deals, n_leads = parse_int(deals, "deals", 1), parse_int(leads, "leads", 1)
    n_days, n_seed = parse_int(days, "days", 1), parse_int(seed, "seed")
    if source == "pipedrive":
        from orchestration.ingest.generators.pipedrive import generate_pipedrive

        counts = generate_pipedrive(out, deals=n_deals, seed=n_seed, end=last, days=n_days, progress=_progress(source))
    elif source == "field_crm":
        from orchestration.ingest.generators.field_crm import generate_field_crm

        counts = generate_field_crm(out, leads=n_leads, seed=n_seed, end=last, days=n_days, progress=_progress(source))
    else:
        raise FunnelError(f"unknown source {source!r}", f"use one of: {', '.join(SOURCES)}")
    typer.echo("", err=True)
    for name, rows in counts.items():
        echo(f"  {name:<28} {rows:>12,} rows")
    echo(f"wrote {sum(counts.values()):,} rows to {out}")


@app.command()
def load(
    directory: Annotated[Path, typer.Argument(help="Folder holding the source's CSV files")],
    source: Annotated[str, typer.Option(help="pipedrive or field_crm")],
    replace: Annotated[bool, typer.Option(help="Supersede earlier loads of files whose content changed")] = False,
) -> None:
    """Land every CSV of SOURCE in raw_<source> (text, lineage columns); rejects get a reason."""
    from orchestration.ingest.loader import FileResult, load_directory

    changed: list[str] = []

    def show(result: FileResult) -> None:
        echo(
            f"  {result.file_name:<28} {result.status:<8} {result.rows_loaded:>10,} rows"
            f" {result.rows_rejected:>6,} rejected  {'; '.join(result.notes)}"
        )
        for reject in result.rejects[:5]:
            where = f"line {reject.line_number}" if reject.line_number else "file"
            echo(f"      {result.file_name} {where}: {reject.reason}")
        if len(result.rejects) > 5:
            echo(f"      ... {len(result.rejects) - 5} more in raw.load_rejects")
        if result.status == "changed":
            changed.append(result.file_name)

    warehouse.start()
    echo(f"loading {source} from {directory}")
    results = load_directory(directory, source, replace=replace, on_file=show)
    if changed:
        raise FunnelError(
            f"{len(changed)} file(s) changed since they were loaded: {', '.join(changed)}",
            "rerun with --replace to supersede the earlier loads",
        )
    rejected = [r for r in results if r.rejects or r.rows_rejected]
    if rejected:
        lines = sum(r.rows_rejected for r in rejected)
        typer.echo(
            f"warning: {len(rejected)} file(s) had rejects ({lines:,} line(s)); see raw.load_rejects"
            f" (exit code {int(ExitCode.REJECTED)})",
            err=True,
        )
        raise typer.Exit(ExitCode.REJECTED)


def _stale_incremental_models(inputs: BuildInputs, variables: dict[str, object], target: str | None) -> list[str]:
    """Incremental models whose code changed since the last build passed (a parse only when files changed)."""
    from orchestration.core import build_state

    before = build_state.previous_node_digests(inputs)
    if before is None:
        return []
    parsed = run_dbt(["parse", "--quiet"], variables, target=target, capture=True)
    if parsed.returncode != 0:
        return []  # the build itself reports the parse error
    return build_state.rebuild_needed(read_manifest(), before)


@app.command()
def build(
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models")] = False,
    source_dt: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default today)")] = None,
    backfill_period: Annotated[str | None, typer.Option(help="Days re-processed before source_dt")] = None,
    months: Annotated[str | None, typer.Option(help="Full-refresh horizon in months")] = None,
    timezone: Annotated[str | None, typer.Option(help="Business time zone (IANA)")] = None,
    select: Annotated[str | None, typer.Option(help="dbt --select")] = None,
    exclude: Annotated[str | None, typer.Option(help="dbt --exclude")] = None,
    target: Annotated[str | None, typer.Option(help="dbt target: dev, ci or prod")] = None,
    regions: Annotated[
        str | None, typer.Option(help="Build facts and marts of these regions only, e.g. eu,uk (data residency)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show dbt's own log of every node")] = False,
    all_tests: Annotated[
        bool,
        typer.Option("--all-tests", help="Tests of incremental models check all rows, not only the run's window"),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Build even when nothing landed and nothing changed since the last build")
    ] = False,
) -> None:
    """`dbt build` (seeds, models, tests) of the sources that hold data, with validated vars; prints a summary.

    Skipped when the same build already passed with the same data, code and vars (orchestration.core.build_state);
    incremental models whose code (or an ancestor's) changed since the last build are rebuilt with --full-refresh.
    """
    from orchestration.cli.console import run_build
    from orchestration.core import build_state

    variables = dbt_vars(
        source_dt, parse_int(backfill_period, "backfill_period"), parse_int(months, "months"), timezone
    )
    if regions is not None:
        variables["regions"] = parse_regions(regions)
    if all_tests:
        variables["test_scope"] = "all"
    if target:
        check_target(target)
    warehouse.start()
    echo(sources_line())
    args = ["build"] + (["--full-refresh"] if full_refresh else [])
    args += ["--select", select] if select else []
    args += ["--exclude", exclude] if exclude else []
    inputs = build_state.build_inputs(f"funnel {' '.join(args)}", variables, target=target)
    passed_at = None if force or full_refresh else build_state.already_built(inputs)
    if passed_at:
        echo(f"nothing to do: this build passed at {passed_at}, nothing landed or changed since (--force builds)")
        return
    invocations = [args]
    tests = build_state.test_plan(inputs, every_test=full_refresh or all_tests)
    if not tests.runs_unit_tests:
        echo("unit tests: passed on this code already, not run again (--all-tests runs them)")
    elif tests.files_changed:
        echo("not passed on these project files yet: unit tests run and data tests check every row")
        variables["test_scope"] = "all"
    stale = [] if full_refresh else _stale_incremental_models(inputs, variables, target)
    if stale and (select or exclude):
        typer.echo(
            f"warning: the code of {', '.join(stale)} (or of a model they read) changed since the last build;"
            f" rebuild them with: funnel build --full-refresh --select {' '.join(m + '+' for m in stale)}",
            err=True,
        )
    elif stale:
        echo(f"code changed since the last build: {', '.join(stale)} and what they feed are rebuilt (--full-refresh)")
        descendants = [m + "+" for m in stale]
        invocations = [["build", "--exclude", *descendants], ["build", "--full-refresh", "--select", *descendants]]
    build_state.starting(inputs)
    for invocation in invocations:
        report = run_build([*invocation, *tests.dbt_args], variables, target=target, verbose=verbose, say=echo)
        if not verbose:
            echo(report.summary())
        if report.returncode != 0:
            break
    record_in_dagster(variables, full_refresh)
    if report.returncode != 0:
        raise FunnelError("dbt build failed", "see the failures above; --verbose shows dbt's full log")
    build_state.finished(inputs, build_state.node_digests(read_manifest()))
    if tests.runs_unit_tests:
        build_state.unit_tests_finished(inputs)
    if len(invocations) == 1 and (report.nothing_selected or (not verbose and report.total == 0)):
        typer.echo(
            f"warning: the selection matched nothing to build (exit code {int(ExitCode.NOTHING_SELECTED)})", err=True
        )
        raise typer.Exit(ExitCode.NOTHING_SELECTED)


@app.command()
def up(
    source_dt: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default today)")] = None,
    data: Annotated[Path | None, typer.Option(help="Your own export folder, loaded instead of sample data")] = None,
    source: Annotated[str | None, typer.Option(help="The source of --data: pipedrive or field_crm")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show dbt's own log of every node")] = False,
) -> None:
    """Start the db, load --data (or sample data into an empty warehouse), build and test, print where to look."""
    from orchestration.cli.up import up as run_up

    if (data is None) != (source is None):
        raise FunnelError("--data and --source go together", "e.g. funnel up --data ./export --source pipedrive")
    if source is not None and source not in SOURCES:
        raise FunnelError(f"unknown source {source!r}", f"use one of: {', '.join(SOURCES)}")
    run_up(source_dt, data=data, source=source, verbose=verbose)


@app.command("export")
def export(
    model: Annotated[str, typer.Argument(help="A mart, e.g. rep_sales_funnel_monthly")],
    fmt: Annotated[str, typer.Option("--format", help="csv, json (JSON Lines) or parquet")] = "csv",
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (on the mart's date column)")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (inclusive)")] = None,
    region: Annotated[str | None, typer.Option(help="Only rows of this region")] = None,
    out: Annotated[Path, typer.Option(help="File, or folder for <model>.<ext>")] = Path("."),
    date_column: Annotated[str | None, typer.Option(help="Date column to filter on (default: the first one)")] = None,
    target: Annotated[str | None, typer.Option(help="dbt target whose marts to read")] = None,
) -> None:
    """Stream a mart to csv/json/parquet with filters, bounded memory and progress."""
    from orchestration.serving.exports import export_model, marts_schema

    result = export_model(
        model,
        fmt,
        start,
        end,
        region,
        out,
        _progress(f"exporting {model}"),
        schema=marts_schema(target),
        date_column=date_column,
    )
    typer.echo("", err=True)
    echo(f"wrote {result.rows:,} rows to {result.path} (sha256 {result.sha256})")
    if result.rows == 0:
        typer.echo(f"warning: no rows match these filters (exit code {int(ExitCode.NO_ROWS)})", err=True)
        raise typer.Exit(ExitCode.NO_ROWS)


@app.command()
def docs(
    port: Annotated[int, typer.Option(help="Port of the docs site")] = 8080,
    serve: Annotated[bool, typer.Option(help="Serve the site after generating it")] = True,
    target: Annotated[str | None, typer.Option(help="dbt target to document")] = None,
) -> None:
    """Generate the dbt docs site (overview, KPIs, lineage raw -> marts) and serve it on 127.0.0.1."""
    from orchestration.serving.docs import generate_docs

    warehouse.start()
    folder = generate_docs(target)
    echo(f"docs generated in {folder} (single file: {folder / 'static_index.html'})")
    if serve:
        echo(f"serving on http://127.0.0.1:{port} (Ctrl-C stops)")
        run_dbt(["docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser"], target=target)


@app.command()
def reconcile(
    source_dt: Annotated[
        str | None, typer.Option(help="Reference date of the last run, YYYY-MM-DD (default today)")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Business time zone (IANA) the runs used")] = None,
    target: Annotated[str | None, typer.Option(help="dbt target to audit: dev, ci or prod")] = None,
    scratch_schema: Annotated[
        str | None, typer.Option(help="Scratch schema prefix (default reconcile_<random>)")
    ] = None,
) -> None:
    """Audit: raw = staged + duplicates + rejected per source table; every incremental model equals a full refresh."""
    from orchestration.ops.reconcile import format_report
    from orchestration.ops.reconcile import reconcile as run_reconcile

    report = run_reconcile(scratch_schema, source_dt=source_dt, timezone=timezone, target=target)
    echo(format_report(report))
    if not report.ok:
        raise typer.Exit(ExitCode.AUDIT_MISMATCH)


@app.command()
def purge(
    as_of: Annotated[str, typer.Option("--as-of", help="Rows whose retention date is before this day go")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing")] = False,
    source_dt: Annotated[str | None, typer.Option(help="Reference date of the rebuild (default today)")] = None,
    timezone: Annotated[str | None, typer.Option(help="Business time zone (IANA) of the builds")] = None,
    target: Annotated[str | None, typer.Option(help="dbt target: dev, ci or prod")] = None,
) -> None:
    """Retention purge: delete (or anonymise, per policy) raw rows past their retention date, rebuild, audit."""
    from orchestration.ops.privacy import purge as run_purge

    change = run_purge(
        parse_source_dt(as_of, "as_of"), dry_run=dry_run, source_dt=source_dt, timezone=timezone, target=target
    )
    echo(change.text())


@app.command()
def forget(
    email: Annotated[str | None, typer.Option(help="The subject's e-mail")] = None,
    phone: Annotated[str | None, typer.Option(help="The subject's phone, any format")] = None,
    customer_key: Annotated[str | None, typer.Option(help="The subject's customer_id (dim_customers)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing")] = False,
    source_dt: Annotated[str | None, typer.Option(help="Reference date of the rebuild (default today)")] = None,
    timezone: Annotated[str | None, typer.Option(help="Business time zone (IANA) of the builds")] = None,
    target: Annotated[str | None, typer.Option(help="dbt target: dev, ci or prod")] = None,
) -> None:
    """Right to be forgotten: anonymise or delete a data subject everywhere, suppress them in future loads, audit."""
    from orchestration.ops.privacy import forget as run_forget

    given = [(kind, value) for kind, value in (("email", email), ("phone", phone), ("customer_key", customer_key))
             if value is not None]  # fmt: skip
    if len(given) != 1:
        raise FunnelError("forget needs exactly one of --email, --phone, --customer-key", f"got {len(given)}")
    ((kind, value),) = given
    change = run_forget(kind, value, dry_run=dry_run, source_dt=source_dt, timezone=timezone, target=target, say=echo)
    echo(change.text())


@app.command()
def audit(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many of the latest entries")] = 50,
) -> None:
    """List the append-only privacy audit log (every purge and forget), newest first."""
    from orchestration.ops.privacy import audit_rows

    rows = audit_rows(limit)
    if not rows:
        echo("no purge or forget has run yet")
    for audit_id, logged_at, operation, requested_by, scope, total, touched in rows:
        echo(f"#{audit_id}  {logged_at:%Y-%m-%d %H:%M:%S%z}  {operation:<6}  {scope}  by {requested_by}")
        echo(f"    {total} row(s): " + "; ".join(
            f"{table} " + ", ".join(f"{action} {n}" for action, n in sorted(counts.items()))
            for table, counts in sorted(touched.items())
        ))  # fmt: skip


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the Dagster UI")] = 3000,
) -> None:
    """Start Dagster (webserver + daemon: schedules, sensors, backfills) for this project until Ctrl-C."""
    from orchestration.cli.ui import serve_ui

    raise typer.Exit(serve_ui(host, port))


@app.command()
def check(
    as_of: Annotated[str | None, typer.Option(help="Freshness reference date YYYY-MM-DD (default: yesterday)")] = None,
    checkpoint: Annotated[list[str] | None, typer.Option(help="Run only this checkpoint (repeatable)")] = None,
) -> None:
    """Run the Great Expectations checkpoints of the marts and print a summary; Data Docs in $FUNNEL_HOME/gx_docs."""
    from orchestration.cli.ui import run_gx_checks
    from orchestration.core.manifest import target_path

    summary = run_gx_checks(parse_source_dt(as_of, "as_of") if as_of else None, checkpoint)
    echo(summary.text())
    if (target_path() / "manifest.json").exists():
        record_in_dagster({}, False, summary.outcomes, build=False)
    if not summary.ok:
        raise FunnelError("a critical GX expectation failed", "see the lines marked critical above, and the Data Docs")


def main() -> None:
    try:
        app()
    except FunnelError as exc:
        typer.echo(f"error: {exc}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        sys.exit(1)
