"""dbt in the test process (dbtRunner, project parsed once per schema) and table comparisons.

A subprocess per dbt run re-parses the project whenever vars change; tests that need tens of runs use this
instead. Vars are passed per call, so one parsed manifest serves any source_dt / backfill_period.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest
from dbt.artifacts.schemas.run import RunExecutionResult
from dbt.contracts.graph.manifest import Manifest

from orchestration.core.contracts import source_tables
from orchestration.core.manifest import read_manifest
from orchestration.core.settings import DBT_PROJECT_DIR, Connection
from orchestration.core.switches import switch_env

# The Pipedrive incremental chain: model -> dbt folder (schema suffix).
PIPEDRIVE_INCREMENTAL = {
    "int_deal_stats_daily": "intermediate",
    "int_activity_stats_daily": "intermediate",
    "int_deal_stats_monthly": "intermediate",
    "int_activity_stats_monthly": "intermediate",
    "int_funnel_stats_monthly": "intermediate",
    "rep_sales_funnel_monthly": "marts",
}
# The keyed models of the Pipedrive chain (macros/incremental_keys.sql): after any run each equals a full refresh
# as of the same day, whole.
PIPEDRIVE_KEYED = {
    "base_pipedrive__deal_changes": "staging",
    "base_pipedrive__activities": "staging",
    "stg_pipedrive__deal_changes": "staging",
    "stg_pipedrive__activities": "staging",
    "int_deal_regions_resolved": "intermediate",
    "int_deal_stages_sequenced": "intermediate",
    "int_deals_consolidated": "intermediate",
    "int_pipeline_flows_daily": "intermediate",
    "int_deal_cohorts_assigned": "intermediate",
    "fct_deal_stage_transitions": "marts",
    "fct_activities": "marts",
    "activity_volume_daily": "marts",
    "funnel_cohort_monthly": "marts",
}
# What a run of the chain builds: the windowed models, the keyed models (staging by load, then by deal or
# activity), the staging views and the intermediate views between them.
PIPEDRIVE_CHAIN = [
    *PIPEDRIVE_INCREMENTAL,
    *PIPEDRIVE_KEYED,
    "staging.pipedrive",
    "int_funnel_history_bounded",
    "int_activities_joined",
    "int_stages_selected",
    "int_stage_options_selected",
    "int_deal_funnel_steps_reached",
]
PIPEDRIVE_SEEDS = [
    "funnel_steps",
    "pipedrive_change_keys",
    "pipedrive_stage_probabilities",
    "compliance_regions",
    "compliance_region_assignments",
    "compliance_consents",
    "compliance_retention_policies",
]


class InProcessDbt:
    """dbt in this process against one schema of a test database, parsing the project once.

    switches=True passes the warehouse's source switches (a database holding one source builds that source only).
    """

    def __init__(
        self,
        conn: Connection,
        schema: str,
        target_path: Path,
        timezone: str = "UTC",
        *,
        backfill: int = 3,
        switches: bool = False,
    ) -> None:
        self.conn, self.schema, self.target_path, self.timezone = conn, schema, target_path, timezone
        self.backfill, self.switches = backfill, switches
        self.manifest: Manifest | None = None

    def _env(self) -> dict[str, str]:
        return {
            **self.conn.env(),
            **(switch_env(self.conn) if self.switches else {}),
            "FUNNEL_DB_SCHEMA": self.schema,
            "FUNNEL_TARGET": "dev",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def __call__(
        self,
        *args: str,
        source_dt: date,
        backfill: int | None = None,
        full_refresh: bool = False,
        test_scope: str | None = None,
        expect_ok: bool = True,
    ) -> bool:
        """Run dbt; a failure fails the pytest unless expect_ok is False (then: whether dbt succeeded)."""
        from dbt.cli.main import dbtRunner

        variables = {
            "source_dt": source_dt.isoformat(),
            "backfill_period": self.backfill if backfill is None else backfill,
            "business_timezone": self.timezone,
            **({"test_scope": test_scope} if test_scope else {}),
        }
        common = [
            "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(self.target_path),
            "--log-path", str(self.target_path / "logs"),
            "--quiet",
        ]  # fmt: skip
        with pytest.MonkeyPatch.context() as mp:
            for key, value in self._env().items():
                mp.setenv(key, value)
            if self.manifest is None:
                parsed = dbtRunner().invoke(["parse", *common, "--vars", json.dumps(variables)])
                assert parsed.success and isinstance(parsed.result, Manifest), f"dbt parse failed: {parsed.exception}"
                self.manifest = parsed.result
            command = [*args, *common, "--vars", json.dumps(variables)]
            result = dbtRunner(manifest=self.manifest).invoke(command + (["--full-refresh"] if full_refresh else []))
        if not result.success and expect_ok:
            failures = [
                f"{r.node.name}: {r.message}"
                for r in (result.result if isinstance(result.result, RunExecutionResult) else [])
                if r.status not in ("success", "pass")
            ]
            pytest.fail(f"dbt {' '.join(args)} (source_dt={source_dt}) failed: {result.exception or failures}")
        return bool(result.success)


class PipedriveDbt(InProcessDbt):
    """The Pipedrive incremental chain, run in this process."""

    def setup(self, source_dt: date) -> None:
        """Seeds, staging views and a full refresh of the Pipedrive incremental models at source_dt."""
        parents = [f"+{model}" for model in [*PIPEDRIVE_INCREMENTAL, *PIPEDRIVE_KEYED]]
        only = ["--resource-type", "seed", "--resource-type", "model"]
        self("build", "--select", *PIPEDRIVE_SEEDS, *parents, *only, source_dt=source_dt, full_refresh=True)

    def incremental(self, source_dt: date, backfill: int = 3) -> None:
        self("run", "--select", *PIPEDRIVE_CHAIN, source_dt=source_dt, backfill=backfill)

    def full_refresh(self, source_dt: date) -> None:
        self("run", "--select", *PIPEDRIVE_CHAIN, source_dt=source_dt, full_refresh=True)

    def relation(self, model: str) -> str:
        return f"{self.schema}_{({**PIPEDRIVE_INCREMENTAL, **PIPEDRIVE_KEYED})[model]}.{model}"

    def windows(self) -> dict[str, tuple[str, str]]:
        """Date column and grain of each Pipedrive incremental model, as its config declares them (meta.window).

        Read from the parsed manifest (parse once first), so the tests check the window a run replaces, not a copy.
        """
        assert self.manifest is not None, "parse the project first (run dbt once)"
        windows = {}
        for node in read_manifest(self.target_path)["nodes"].values():
            if node["resource_type"] == "model" and node["name"] in PIPEDRIVE_INCREMENTAL:
                window = node["config"]["meta"]["window"]
                windows[node["name"]] = (window["column"], window.get("grain", "day"))
        assert set(windows) == set(PIPEDRIVE_INCREMENTAL), (
            f"no meta.window: {set(PIPEDRIVE_INCREMENTAL) - set(windows)}"
        )
        return windows


def differing_rows(wh, left: str, right: str, where: str = "true") -> int:
    """Rows (as multisets: a doubled row counts) in one relation and not the other, both ways, under `where`."""
    return wh.scalar(
        f"select count(*) from ((select * from {left} where {where} except all select * from {right} where {where})"
        f" union all (select * from {right} where {where} except all select * from {left} where {where})) as diff"
    )


def snapshot(wh, relations: Mapping[str, str], schema: str) -> None:
    """Copy each relation aside as `schema`.<name>, to compare with what a later run builds."""
    wh.query(f"drop schema if exists {schema} cascade")
    wh.query(f"create schema {schema}")
    for name, relation in relations.items():
        wh.query(f"create table {schema}.{name} as select * from {relation}")


def assert_equal_to_snapshot(wh, relations: Mapping[str, str], schema: str, what: str) -> None:
    """Row for row (as multisets), each relation equals its copy in `schema`; an empty copy proves nothing."""
    for name, relation in relations.items():
        kept = f"{schema}.{name}"
        assert wh.scalar(f"select count(*) from {kept}") > 0, f"{name} is empty"
        differing = differing_rows(wh, kept, relation)
        assert differing == 0, f"{name}: {differing} rows differ between {what}"


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def assert_pipedrive_raw_rows_reconcile(wh, staging_schema: str, tables: Iterable[str] | None = None) -> None:
    """Per raw Pipedrive table: raw rows = rows staged (each stands for source_rows_count raw rows) + rows rejected."""
    staging = {table.name: table.staging_model for table in source_tables("pipedrive")}
    for table in tables or staging:
        raw = wh.scalar(f"select count(*) from raw_pipedrive.{table}")
        staged = wh.scalar(f"select coalesce(sum(source_rows_count), 0) from {staging_schema}.{staging[table]}")
        rejected = wh.scalar(
            f"select count(*) from {staging_schema}.stg_pipedrive__rejects where source_table = %s", (table,)
        )
        assert raw == staged + rejected, f"{table}: raw {raw} != staged {staged} + rejected {rejected}"


def checksum(wh, relation: str) -> tuple[int, str]:
    rows = wh.query(f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {relation} t")
    return rows[0]


@contextlib.contextmanager
def planted(wh, table: str, column: str, where: str = "true") -> Iterator[Callable[[object], None]]:
    """plant(value) copies one row of `table` whose `column` is value (and `where` holds); the table is restored
    afterwards."""
    kept = table + "__kept"
    wh.query(f"create table {kept} as select * from {table}")
    try:
        yield lambda value: wh.query(
            f"insert into {table} select * from {table} where {column} = %s and {where} limit 1", (value,)
        )
    finally:
        wh.query(f"truncate {table}; insert into {table} select * from {kept}")
        wh.query(f"drop table {kept}")
