"""The benchmark at scale (issue 7): `make bench [SIZE=S|M|L]` = `python -m bench --size S`.

Per size, in a database of its own, the harness generates a seeded dataset with the product's generators,
lands it with `funnel load`, builds it with dbt and queries the marts, and writes one JSON file plus a
markdown table (`bench/results/<size>-<date>.json|.md`). Each timed measure is the median of `--repeat`
runs. Timing is only reported; correctness of every benchmarked build is checked (incremental runs and
backfills equal a full refresh, the lower bound equals the mart, every landed row reconciles) and a
failed check makes the command exit 1.

Like for like: the daily run is what a real day costs. The last generated day's rows of the event tables are
held back from the initial load (bench/landing.py); the evening before is a full refresh at end - 1 without
them, then the day lands with `funnel load` (timed apart) and the Dagster daily job runs for it (every model
and every test, source_dt = end), compared with the full build with tests and checked against the full
refresh of all data. Every other measure runs on all the data.

Two more shapes write results of their own: `--shape history` (bench/history.py: the daily run on 540 and
5 x 540 days of history at the same rows per day, `<size>-history-<date>`) and `--peer` (bench/peer.py: the
funnel subgraph next to the simple dbt project it replaces, `<size>-peer-<date>`); the full report's targets
table shows their latest result of its size.

Model names are discovered from dbt's manifest at run time: a measure whose model does not exist yet is
reported as `n/a (model X missing)` instead of failing. Memory stays bounded at any size: the generators
and the loader stream, and every comparison runs in SQL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, BI_RUNS, HISTORY_DAYS, SEED, SIZES, log, machine_info, table_rows
from bench.harness import BenchBase
from bench.history import HistoryBench
from bench.measures_build import BuildMeasures
from bench.measures_data import DataMeasures
from bench.peer import PeerBench
from bench.report import markdown, targets
from bench.report_shapes import shape_markdown, shape_targets
from orchestration.core import warehouse
from orchestration.core.errors import FunnelError


class Bench(DataMeasures, BuildMeasures):
    """Every measure, run in order by run()."""

    def run(self) -> dict[str, Any]:
        started = datetime.now(UTC)
        self.start_work()
        machine = machine_info(self.server)
        project = self.freeze_project()
        log(f"size {self.size.name}: {self.size.deals:,} deals, {self.size.leads:,} leads, repeat {self.repeat}")
        try:
            self.measure_generate()
            self.measure_load()
            self.discover_models()
            self.measure_full_builds()
            if self.measures["full_build_with_tests"]["status"] == "ok":
                self.snapshot_reference()
                self.measure_lower_bound()
                self.measure_bi()
                self.measure_parse()
                self.measure_backfill()
                self.measure_daily()
            else:
                for key in (
                    "lower_bound",
                    "bi_queries",
                    "backfill_30d",
                    "daily_incremental",
                    "daily_load",
                    "no_change_build",
                    "no_change_funnel_build",
                ):
                    self.measures[key] = {"status": "error", "reason": "the full build failed"}
                self.measure_parse()
            self.finish_parse_new_vars()
        finally:
            if not self.keep:
                warehouse.drop_database(self.conn)
                for path in (self.data_dir, self.day_dir, self.probe_dir):
                    shutil.rmtree(path, ignore_errors=True)
        machine["load_average_at_end"] = list(os.getloadavg())
        result = {
            "schema_version": 1,
            "shape": "full",
            "size": self.size.name,
            "date": started.date().isoformat(),
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": self.dataset(),
            "repeat": self.repeat,
            "dbt_selection": self.select or "whole project",
            "project": project,
            "database": self.dbname,
            "machine": machine,
            "models": {
                "count": len(self.models),
                "incremental": sorted(m.name for m in self.incremental_models()),
                "persisted": sorted(m.name for m in self.persisted_models()),
                "all": sorted(self.models),
            },
            "measures": self.measures,
            "checks": self.checks,
            "checks_passed": all(c["passed"] is not False for c in self.checks),
            "dbt_invocations": self.dbt_runs,
        }
        result["targets"] = targets(result, self.out_dir)
        return result

    def dataset(self) -> dict[str, Any]:
        rows = self.measures.get("load", {}).get("rows_per_file", {})
        changes = table_rows(rows, "pipedrive", "deal_changes")
        activities = table_rows(rows, "pipedrive", "activity")
        deals = self.size.deals
        return {
            "deals": deals,
            "leads": self.size.leads,
            "history_days": HISTORY_DAYS,
            "end": self.end.isoformat(),
            "seed": SEED,
            "deal_changes_per_deal": round(changes / deals, 2) if deals else None,
            "activities_per_deal": round(activities / deals, 2) if deals else None,
            "raw_rows": self.measures.get("load", {}).get("rows"),
            "csv_bytes": self.measures.get("generate", {}).get("bytes"),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="S", help="XS 300, S 10k, M 200k, L 1M deals")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measure, median reported (3; 1 for L)")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"), help="folder of the JSON and markdown results")
    parser.add_argument(
        "--work", default=None, help="scratch folder (data, dbt target, logs); FUNNEL_HOME/bench/DATABASE"
    )
    parser.add_argument("--database", default=None, help="database to create and drop (bench_<size>)")
    parser.add_argument("--bi-runs", type=int, default=BI_RUNS, help="executions per BI query")
    parser.add_argument("--keep", action="store_true", help="keep the database and the generated files")
    parser.add_argument(
        "--project-root",
        default=None,
        help="benchmark the dbt project (dbt_project/, macros/, seeds/) of another checkout, e.g. a patched copy",
    )
    parser.add_argument(
        "--select",
        default=None,
        help="benchmark only this dbt selection (default: the whole project; the harness's test narrows it); "
        "not with --peer, which builds the funnel subgraph",
    )
    parser.add_argument(
        "--shape",
        choices=["full", "history"],
        default="full",
        help="full: every measure; history: the daily run on 540 and 5x540 days at the same rows per day",
    )
    parser.add_argument(
        "--peer", action="store_true", help="our funnel subgraph next to the simple project it replaces (peer_project)"
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.peer and (args.shape != "full" or args.select):
        parser.error("--peer takes neither --shape nor --select")
    bench_class: type[BenchBase] = PeerBench if args.peer else HistoryBench if args.shape == "history" else Bench
    try:
        bench = bench_class(args)
        result = bench.run()
    except FunnelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    shape = result.get("shape", "full")
    if shape != "full":
        result["targets"] = shape_targets(result)
    stem = f"{result['size']}-{result['date']}" if shape == "full" else f"{result['size']}-{shape}-{result['date']}"
    (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    table = markdown(result) if shape == "full" else shape_markdown(result)
    (out_dir / f"{stem}.md").write_text(table)
    print(table)
    print(f"results: {out_dir / stem}.json (logs in {bench.logs})")
    return 0 if result["checks_passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
