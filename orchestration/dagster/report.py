"""Builds made outside Dagster (`funnel build`, `funnel up`) recorded in the instance `funnel ui` opens.

Without this the UI shows a warehouse that `make run` built as "Never materialized", every partition missing
and every check "Not evaluated". After a build, each model and seed dbt built becomes a materialization of its
asset (incremental models: one per day of the run's window; every day up to source_dt after a full refresh or
when the instance has never seen the asset, i.e. its first build) and each dbt test that ran becomes an
evaluation of its asset check; each raw table with a load the instance has not seen is materialized too.
Keys come from the same translator as the Dagster definitions, applied to the
manifest of the build itself, so nothing is parsed again. A full history is thousands of events (~10 ms each),
so the CLI records in a background process (`spawn`) from a copy of the build's artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from orchestration.core.manifest import is_windowed, read_manifest, run_results, target_path, today

REPORT_SWITCH = "FUNNEL_DAGSTER_REPORT"


@dataclass
class Reported:
    materializations: int = 0
    checks: int = 0

    def text(self) -> str:
        return (
            f"dagster: recorded {self.materializations:,} materializations and {self.checks:,} check results"
            " (funnel ui shows them)"
        )


def enabled() -> bool:
    return os.environ.get(REPORT_SWITCH, "on").strip().lower() not in ("0", "off", "false", "no")


def window_days(variables: Mapping[str, object], full_refresh: bool, first: date, last: date) -> list[str]:
    """The daily partitions an incremental build wrote: its window, or every day up to source_dt."""
    source_dt = date.fromisoformat(str(variables["source_dt"]))
    start = first if full_refresh else source_dt - timedelta(days=int(str(variables.get("backfill_period", 3))))
    start, end = max(start, first), min(source_dt, last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def gx_results(outcomes: Sequence[Any]) -> list[dict[str, Any]]:
    """GX checkpoint outcomes (orchestration.ops.gx.CheckpointOutcome) as the record keeps them."""
    return [
        {
            "model": o.name,
            "passed": not o.failed,
            "critical": bool(o.critical_failures),
            "expectations": len(o.outcomes),
            "failed": len(o.failed),
            "as_of": o.as_of.isoformat(),
        }
        for o in outcomes
    ]


def report_build(
    variables: Mapping[str, object],
    full_refresh: bool,
    target_path: Path,
    gx: Sequence[Mapping[str, Any]] = (),
    build: bool = True,
) -> Reported:
    """Record the last dbt build of `target_path` (unless `build` is false) and these GX checkpoint results
    (the `gx_<model>` checks) in the Dagster instance of $FUNNEL_HOME/dagster."""
    from dagster import (
        AssetCheckEvaluation,
        AssetCheckSeverity,
        AssetMaterialization,
        DagsterInstance,
    )

    from orchestration.dagster.instance import prepare_dagster_home
    from orchestration.dagster.partitions import daily_partitions
    from orchestration.dagster.resources import environment
    from orchestration.dagster.translator import FunnelTranslator

    manifest = read_manifest(target_path)
    results = run_results(target_path) if build else []
    translator = FunnelTranslator(code_references=False)
    partitions = daily_partitions()
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    days, history = [], []
    if first and last and "source_dt" in variables:
        bounds = date.fromisoformat(first), date.fromisoformat(last)
        days = window_days(variables, full_refresh, *bounds)
        history = window_days(variables, True, *bounds)
    env = prepare_dagster_home()
    reported = Reported()
    with environment({"DAGSTER_HOME": env["DAGSTER_HOME"], "FUNNEL_DAGSTER_PG_URL": env["FUNNEL_DAGSTER_PG_URL"]}):
        instance = DagsterInstance.get()
        try:
            for result in results:
                unique_id = str(result["unique_id"])
                node = manifest["nodes"].get(unique_id)
                if node is None:
                    continue
                status = str(result["status"])
                kind = node["resource_type"]
                if kind in ("model", "seed", "snapshot") and status == "success":
                    key = translator.get_asset_key(node)
                    incremental = is_windowed(node)
                    meta = {"source": "funnel build (outside Dagster)", "dbt_unique_id": unique_id}
                    built: list[str | None] = list(days)
                    if incremental and not full_refresh and instance.get_latest_materialization_event(key) is None:
                        built = list(history)  # its first build filled every day up to source_dt
                    for day in built if incremental else [None]:  # a table rebuilt whole has no partitions
                        instance.report_runless_asset_event(AssetMaterialization(key, partition=day, metadata=meta))
                        reported.materializations += 1
                elif kind == "test" and status in ("pass", "warn", "fail", "error"):
                    check = _check_key(translator, manifest, unique_id)
                    if check is None:
                        continue
                    instance.report_runless_asset_event(
                        AssetCheckEvaluation(
                            asset_key=check.asset_key,
                            check_name=check.name,
                            passed=status == "pass",
                            severity=AssetCheckSeverity.WARN if status == "warn" else AssetCheckSeverity.ERROR,
                            metadata={"status": status, "failures": int(str(result.get("failures") or 0))},
                        )
                    )
                    reported.checks += 1
            if build:
                reported.materializations += _report_raw_loads(instance)
            models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
            for outcome in gx:
                if outcome["model"] not in models:
                    continue
                instance.report_runless_asset_event(
                    AssetCheckEvaluation(
                        asset_key=translator.get_asset_key(models[outcome["model"]]),
                        check_name=f"gx_{outcome['model']}",
                        passed=bool(outcome["passed"]),
                        severity=AssetCheckSeverity.ERROR if outcome["critical"] else AssetCheckSeverity.WARN,
                        metadata={k: outcome[k] for k in ("expectations", "failed", "as_of")},
                    )
                )
                reported.checks += 1
        finally:
            instance.dispose()
    return reported


def _report_raw_loads(instance: Any) -> int:
    """The raw tables as the loader left them: one materialization per table whose newest active load the
    instance has not seen yet (the raw assets of `funnel load`/`funnel up`, which run outside Dagster)."""
    from dagster import AssetMaterialization

    from orchestration.core.warehouse import connect
    from orchestration.dagster.translator import raw_asset_key

    with connect() as db:
        if db.execute("select to_regclass('raw.load_ledger') is null").fetchone() == (True,):
            return 0
        loads = db.execute(
            "select source, table_name, max(load_id), sum(rows_loaded) from raw.load_ledger"
            " where superseded_by is null group by source, table_name"
        ).fetchall()
    reported = 0
    for source, table, load_id, rows in loads:
        key = raw_asset_key(source, table)
        latest = instance.get_latest_materialization_event(key)
        seen = latest.asset_materialization.metadata.get("load_id") if latest and latest.asset_materialization else None
        if seen is not None and seen.value == load_id:
            continue
        meta: dict[str, str | int] = {
            "source": "funnel load (outside Dagster)",
            "load_id": int(load_id),
            "active_rows": int(rows or 0),
        }
        instance.report_runless_asset_event(AssetMaterialization(key, metadata=meta))
        reported += 1
    return reported


def _check_key(translator: Any, manifest: Mapping[str, Any], test_id: str) -> Any:
    """The asset check dagster-dbt makes of a dbt test (attached node, `meta.dagster.ref`, or its only parent),
    by dagster-dbt's own rule, so the record and the Dagster definitions cannot disagree."""
    from dagster_dbt.asset_utils import get_asset_check_key_for_test

    return get_asset_check_key_for_test(manifest, translator, test_id, None)


def spawn(
    variables: Mapping[str, object],
    full_refresh: bool,
    target_path: Path,
    gx: Sequence[Mapping[str, Any]] = (),
    build: bool = True,
) -> Path:
    """Record the build (and GX results) in a background process; return its log file. The artifacts are
    copied first: the next dbt command may overwrite them before the record is written."""
    from orchestration.dagster.instance import dagster_home

    folder = Path(tempfile.mkdtemp(prefix="funnel-dagster-report-"))
    for name in ("manifest.json", "run_results.json") if build else ("manifest.json",):
        shutil.copy2(target_path / name, folder / name)
    request = {"variables": dict(variables), "full_refresh": full_refresh, "gx": list(gx), "build": build}
    (folder / "request.json").write_text(json.dumps(request))
    log = dagster_home() / "cli_builds.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        subprocess.Popen(
            [sys.executable, "-m", "orchestration.dagster.report", str(folder)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return log


def main(folder: Path) -> None:
    request = json.loads((folder / "request.json").read_text())
    try:
        reported = report_build(
            request["variables"], request["full_refresh"], folder, request.get("gx", []), request.get("build", True)
        )
        print(reported.text(), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def record(variables: dict[str, object], full_refresh: bool, gx: Sequence[Any] = (), build: bool = True) -> Path | None:
    """Record what a CLI build built and checked (GX checkpoint outcomes) in the instance of `funnel ui`, in a
    background process (a first build is thousands of partition events); its log, or None when recording is off."""
    if not enabled():
        return None
    zone = str(variables.get("business_timezone", "UTC"))
    request = {"source_dt": today(zone).isoformat(), **variables}
    return spawn(request, full_refresh, target_path(), gx_results(gx), build)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
