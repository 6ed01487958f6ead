"""The asset graph: raw tables landed from `$FUNNEL_HOME/landing/<source>/`, then the dbt project.

- `raw/<source>/<table>`: one asset per source table, materialised by the loader `funnel load` uses.
- dbt, from the manifest, in two `@dbt_assets` definitions: the incremental models (`dbt_incremental_models`,
  daily partitions, single-run backfills: a range of days is one dbt invocation) and everything else
  (`dbt_models`: views, tables, seeds, unpartitioned). dbt data tests are asset checks on their models.
- keys and groups: orchestration.dagster.translator (`<layer>/<area>/<model>`, groups `<layer>_<area>`, dbt
  sources resolve to the raw assets, every dbt test check described).
"""

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    multi_asset,
)
from dagster_dbt import DbtCliInvocation, dbt_assets
from psycopg import sql
from pydantic import Field

from orchestration.core import build_state
from orchestration.core.contracts import SOURCES, raw_schema, source_tables
from orchestration.core.dbt import run_var_environ
from orchestration.core.errors import FunnelError
from orchestration.core.manifest import business_timezone, is_windowed, prepare_manifest, read_manifest
from orchestration.core.settings import funnel_home
from orchestration.core.switches import switch_env
from orchestration.dagster.partitions import daily_partitions, key_range_vars, run_partition_range
from orchestration.dagster.resources import FunnelDbtResource, dbt_project
from orchestration.dagster.translator import FunnelTranslator, raw_asset_key

# At most one dbt run against the warehouse at a time: dagster.yaml limits this pool to 1 slot.
DBT_POOL = "dbt_warehouse"
# Run tag for the jobs that run dbt; dagster.yaml's tag concurrency limit queues a second such run.
DBT_RUN_TAGS = {"funnel/warehouse": "dbt"}
# A run carrying this tag (every run of dbt_full_refresh_job does) builds with --full-refresh.
FULL_REFRESH_TAG = "funnel/full_refresh"
# A run carrying funnel/test_scope=all (every run of dbt_replay_35d_job does) tests all rows of the windowed
# models, not only the run's window (macros/tests/test_scope.sql).
TEST_SCOPE_TAG = "funnel/test_scope"

# ---------------------------------------------------------------------------------------------- raw


def landing_root() -> Path:
    """Where CRM exports are dropped: FUNNEL_LANDING_DIR, default `$FUNNEL_HOME/landing`."""
    configured = os.environ.get("FUNNEL_LANDING_DIR", "").strip()
    return Path(configured).expanduser().resolve() if configured else funnel_home() / "landing"


def landing_dir(source: str) -> Path:
    return landing_root() / source


class RawLoadConfig(Config):
    replace: bool = Field(
        default=False,
        description="Supersede earlier loads of files whose content changed (as `funnel load --replace`).",
    )


def _touched_dates(
    db: psycopg.Connection, source: str, table: str, column_name: str, load_ids: list[int]
) -> tuple[date, date] | None:
    """First and last date in `column_name` among rows of these loads (ISO and MM/DD/YYYY text), None if none parse."""
    column = sql.Identifier(column_name)
    query = sql.SQL(
        """
        with typed as (
            select case
                when {col} ~ '^\\s*[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'
                    then to_date(substring(trim({col}) from 1 for 10), 'YYYY-MM-DD')
                when {col} ~ '^\\s*[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}'
                    then to_date(substring(trim({col}) from '^[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}'), 'MM/DD/YYYY')
            end as day
            from {tbl}
            where _load_id = any(%s)
        )
        select min(day), max(day) from typed
        """
    ).format(col=column, tbl=sql.Identifier(raw_schema(source), table))
    row = db.execute(query, (load_ids,)).fetchone()
    return (row[0], row[1]) if row and row[0] else None


def _landing_metadata(source: str, since_load_id: int) -> dict[str, dict[str, Any]]:
    """Per table: rows landed by loads newer than `since_load_id` and the event dates they touch."""
    from orchestration.core.warehouse import connect

    out: dict[str, dict[str, Any]] = {}
    dated_columns = {table.name: table.dated_by for table in source_tables(source)}
    with connect() as db:
        loads = db.execute(
            "select table_name, load_id, rows_loaded from raw.load_ledger where source = %s and load_id > %s",
            (source, since_load_id),
        ).fetchall()
        by_table: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for table, load_id, rows in loads:
            by_table[table].append((load_id, rows))
        for table, items in by_table.items():
            rows = sum(r for _, r in items)
            info: dict[str, Any] = {"new_rows": rows, "touches_all_dates": False}
            dated_by = dated_columns.get(table)
            if rows and dated_by:
                try:
                    span = _touched_dates(db, source, table, dated_by, [i for i, _ in items])
                except psycopg.Error:  # an impossible date such as 2024-02-30: be safe, re-run everything
                    db.rollback()
                    span = None
                    info["touches_all_dates"] = True
                if span:
                    # Timestamps are cut into business dates by dbt: a day either side covers any zone shift.
                    info["touched_from"] = (span[0] - timedelta(days=1)).isoformat()
                    info["touched_to"] = (span[1] + timedelta(days=1)).isoformat()
            elif rows:
                info["touches_all_dates"] = True
            out[table] = info
    return out


def _max_load_id() -> int:
    from orchestration.core.warehouse import connect

    with connect() as db:
        exists = db.execute("select to_regclass('raw.load_ledger') is not null").fetchone()
        if not exists or not exists[0]:
            return 0
        row = db.execute("select coalesce(max(load_id), 0) from raw.load_ledger").fetchone()
        return int(row[0]) if row else 0


def build_raw_assets(source: str) -> AssetsDefinition:
    tables = source_tables(source)
    specs = [
        AssetSpec(
            raw_asset_key(source, table.name),
            group_name=f"raw_{source}",
            description=(
                f"`{raw_schema(source)}.{table.name}`: every record of `{table.file_name}` (and"
                f" `{table.name}__*.csv` drops) from `$FUNNEL_HOME/landing/{source}/`, all text, with lineage"
                " columns; rejects in `raw.load_rejects`."
            ),
            kinds={"postgres", "csv"},
            skippable=True,
            metadata={
                "dagster/table_name": f"{raw_schema(source)}.{table.name}",
                "dagster/column_schema": TableSchema(columns=[TableColumn(c, "text") for c in table.columns]),
            },
        )
        for table in tables
    ]

    @multi_asset(name=f"raw_{source}", specs=specs, can_subset=False)
    def load_raw(context: AssetExecutionContext, config: RawLoadConfig) -> Iterator[MaterializeResult]:
        from orchestration.ingest.loader import load_directory

        directory = landing_dir(source)
        before = _max_load_id()
        try:
            results = load_directory(directory, source, replace=config.replace)
        except FunnelError as exc:
            raise Failure(description=f"{exc} ({exc.hint})" if exc.hint else str(exc)) from None
        landed = _landing_metadata(source, before)
        changed = []
        by_table: dict[str, list[Any]] = defaultdict(list)
        for result in results:
            context.log.info(
                f"{result.file_name}: {result.status}, {result.rows_loaded} rows, {result.rows_rejected} rejected"
                + (f" ({'; '.join(result.notes)})" if result.notes else "")
            )
            if result.status == "changed":
                changed.append(result.file_name)
            by_table[result.table].append(result)
        for table in tables:
            files = by_table.get(table.name)
            if not files:
                continue
            info = landed.get(table.name, {"new_rows": 0, "touches_all_dates": False})
            yield MaterializeResult(
                asset_key=raw_asset_key(source, table.name),
                metadata={
                    **info,
                    "files": MetadataValue.md(
                        "| file | status | rows | rejected |\n|---|---|---|---|\n"
                        + "\n".join(
                            f"| {r.file_name} | {r.status} | {r.rows_loaded} | {r.rows_rejected} |" for r in files
                        )
                    ),
                    "rows_rejected": sum(r.rows_rejected for r in files),
                    "landing_dir": str(directory),
                },
            )
        if changed:
            raise Failure(
                description=f"{len(changed)} file(s) changed since they were loaded: {', '.join(changed)}",
                metadata={"hint": "launch again with config `replace: true` to supersede the earlier loads"},
            )

    return load_raw


RAW_ASSETS: list[AssetsDefinition] = [build_raw_assets(source) for source in SOURCES]


# ---------------------------------------------------------------------------------------------- dbt


TRANSLATOR = FunnelTranslator()
DBT_PROJECT = dbt_project()
MANIFEST_PATH = prepare_manifest()


def load_manifest() -> dict[str, Any]:
    return read_manifest(MANIFEST_PATH.parent)


MANIFEST = load_manifest()
# The sources switched on when this code location loaded: its asset graph holds their models only.
LOADED_SWITCHES = switch_env()


def _nodes(resource_type: str) -> list[Mapping[str, Any]]:
    return [n for n in MANIFEST.get("nodes", {}).values() if n["resource_type"] == resource_type]


def incremental_models() -> list[str]:
    """The windowed incremental models, by name."""
    return sorted(n["name"] for n in _nodes("model") if is_windowed(n))


def tests_of_incremental_models() -> list[str]:
    """Tests that read an incremental model and a model of the other step, e.g. a relationship from a fact to a
    dimension.

    dbt's indirect selection would run them in `dbt_models` too, as soon as their other parent (the dimension)
    is built there: before the fact exists on a first build, and as observations Dagster shows as "Skipped"
    checks otherwise. They run once, in `dbt_incremental_models`, where their checks are."""
    incremental = {n["unique_id"] for n in _nodes("model") if is_windowed(n)}
    return sorted(
        n["name"]
        for n in _nodes("test")
        if incremental & set(n["depends_on"]["nodes"])
        and {p for p in n["depends_on"]["nodes"] if p.startswith(("model.", "seed.", "snapshot."))} - incremental
    )


class DbtBuildConfig(Config):
    full_refresh: bool = Field(default=False, description="dbt build --full-refresh: rebuild incremental models.")


_ROWS = re.compile(r"^(?:INSERT \d+|SELECT|UPDATE|DELETE|MERGE|COPY) (\d+)$")


def _rows_affected(raw_event: Mapping[str, Any]) -> int | None:
    """Rows the statement of a model/seed result touched, from dbt's adapter response ('INSERT 0 42')."""
    match = _ROWS.match(str(raw_event.get("data", {}).get("status", "")).strip())
    return int(match.group(1)) if match else None


def _row_count(db: psycopg.Connection, node: Mapping[str, Any]) -> int | None:
    """Rows in a model's table after the run, in the database dbt ran against (not the manifest's: the code
    location's manifest may have been parsed for another database, e.g. by a test)."""
    if node.get("config", {}).get("materialized") in ("view", "ephemeral"):
        return None
    table = sql.Identifier(node["schema"], node.get("alias") or node["name"])
    try:
        row = db.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


def _events_with_metadata(invocation: DbtCliInvocation) -> Iterator[Any]:
    """dagster-dbt's events, materialisations enriched with rows affected (adapter response) and row count."""
    from orchestration.core.warehouse import connect

    nodes = invocation.manifest.get("nodes", {})
    with connect(autocommit=True) as db:
        for raw in invocation.stream_raw_events():
            unique_id = raw.raw_event.get("data", {}).get("node_info", {}).get("unique_id")
            if unique_id and unique_id not in nodes and not unique_id.startswith("unit_test."):
                # A model added after this code location loaded its manifest: dbt ran it, Dagster cannot map it.
                if invocation.context and raw.raw_event["info"]["name"] in ("LogModelResult", "LogTestResult"):
                    invocation.context.log.warning(
                        f"{unique_id} is not in the loaded manifest: reload the code location"
                    )
                continue
            rows = _rows_affected(raw.raw_event)
            for event in raw.to_default_asset_events(
                manifest=invocation.manifest,
                dagster_dbt_translator=invocation.dagster_dbt_translator,
                context=invocation.context,
                target_path=invocation.target_path,
                project=invocation.project,
            ):
                if isinstance(event, Output) and unique_id in nodes:
                    extra: dict[str, Any] = {} if rows is None else {"rows_affected": rows}
                    count = _row_count(db, nodes[unique_id])
                    if count is not None:
                        extra["dagster/row_count"] = count
                    event = event.with_metadata({**event.metadata, **extra})
                yield event


def run_dbt_build(
    context: AssetExecutionContext, dbt: FunnelDbtResource, variables: Mapping[str, object], config: DbtBuildConfig
) -> Iterator[Any]:
    """`dbt build` of the selected assets with these vars; events carry rows affected, row count, duration.

    --full-refresh when the op config says so or the run is tagged funnel/full_refresh=true: a run tag also
    holds for a run over a range of partitions, where a partitioned job's config (resolved per key) does not."""
    full_refresh = config.full_refresh or context.run.tags.get(FULL_REFRESH_TAG, "").lower() == "true"
    switches = switch_env()
    if switches != LOADED_SWITCHES:
        context.log.warning(
            f"the sources switched on changed since this code location loaded ({LOADED_SWITCHES} -> {switches}):"
            " models of a source switched on since are not built, steps below models switched off are skipped;"
            " reload the code location (Deployment > Reload in the UI, or restart `funnel ui`)"
        )
    if context.run.tags.get(TEST_SCOPE_TAG, "").lower() == "all":
        variables = {**variables, "test_scope": "all"}
    selected = sorted(key.to_user_string() for key in context.selected_asset_keys)
    scope = "all tests " if variables.get("test_scope") == "all" else ""
    step = f"dagster {context.op.name} {'full refresh ' if full_refresh else ''}{scope}{_sha(selected)}"
    # Both dbt steps of a run record the run's window (the partitioned step's vars), so that neither takes the
    # other's row for a build with other inputs.
    span = run_partition_range(context.run.tags)
    inputs = build_state.build_inputs(step, key_range_vars(*span, business_timezone()) if span else variables)
    passed_at = None if full_refresh else build_state.already_built(inputs)
    if passed_at:
        context.log.info(f"nothing to do: this step passed at {passed_at} with the same data, code and vars")
        return
    before = None if full_refresh else build_state.previous_node_digests(inputs)
    stale = set(build_state.rebuild_needed(MANIFEST, before)) if before else set()
    ours = {n["name"] for n in MANIFEST.get("nodes", {}).values() if _asset_key(n) in context.selected_asset_keys}
    if stale & ours:
        context.log.warning(f"code changed since the last build: {', '.join(sorted(stale & ours))}; --full-refresh")
        full_refresh = True
    args = ["build"] + (["--full-refresh"] if full_refresh else [])
    tests = build_state.test_plan(inputs, every_test=full_refresh or bool(scope))
    args += tests.dbt_args
    if tests.files_changed:
        context.log.info("not passed on these project files yet: unit tests run and data tests check every row")
        variables = {**variables, "test_scope": "all"}
    context.log.info(f"dbt {' '.join(args)} with vars {json.dumps(dict(variables))}")
    build_state.starting(inputs)
    with run_var_environ(variables):  # dagster-dbt starts dbt inside cli(), copying os.environ
        invocation = dbt.cli(args, context=context)
    yield from _events_with_metadata(invocation)
    build_state.finished(inputs, build_state.node_digests(MANIFEST))
    if tests.runs_unit_tests:
        build_state.unit_tests_finished(inputs)


def _sha(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _asset_key(node: Mapping[str, Any]) -> AssetKey:
    return TRANSLATOR.get_asset_key(node)


def run_vars(context: AssetExecutionContext, partitioned: bool) -> dict[str, object]:
    """The dbt vars of this run: the partition window, else the window of the run's partitions, else none."""
    if partitioned:
        keys = context.partition_key_range
        return key_range_vars(keys.start, keys.end, business_timezone())
    span = run_partition_range(context.run.tags)
    if span:  # unpartitioned models in a partitioned run see the same reference date
        return {"source_dt": key_range_vars(*span)["source_dt"], "business_timezone": business_timezone()}
    return {"business_timezone": business_timezone()}


def build_dbt_assets() -> list[AssetsDefinition]:
    defs: list[AssetsDefinition] = []
    if incremental_models():

        @dbt_assets(
            manifest=MANIFEST,
            select=" ".join(incremental_models()),
            name="dbt_incremental_models",
            partitions_def=daily_partitions(),
            dagster_dbt_translator=TRANSLATOR,
            project=DBT_PROJECT,
            pool=DBT_POOL,
        )
        def dbt_incremental_models(
            context: AssetExecutionContext, dbt: FunnelDbtResource, config: DbtBuildConfig
        ) -> Iterator[Any]:
            yield from run_dbt_build(context, dbt, run_vars(context, partitioned=True), config)

        defs.append(dbt_incremental_models)

    others = [
        n
        for n in MANIFEST.get("nodes", {}).values()
        if n["resource_type"] in ("model", "seed", "snapshot") and not is_windowed(n)
    ]
    if others:

        @dbt_assets(
            manifest=MANIFEST,
            exclude=" ".join([*incremental_models(), *tests_of_incremental_models()]),
            name="dbt_models",
            dagster_dbt_translator=TRANSLATOR,
            project=DBT_PROJECT,
            pool=DBT_POOL,
        )
        def dbt_models(context: AssetExecutionContext, dbt: FunnelDbtResource, config: DbtBuildConfig) -> Iterator[Any]:
            yield from run_dbt_build(context, dbt, run_vars(context, partitioned=False), config)

        defs.append(dbt_models)
    return defs


DBT_ASSETS: list[AssetsDefinition] = build_dbt_assets()
