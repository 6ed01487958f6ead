"""`python -m bench --shape history`: does the daily run grow with history at a fixed number of rows per day?

Two datasets with the same rows per day: HISTORY_DAYS days of `--size` deals, and HISTORY_FACTOR times the days
with HISTORY_FACTOR times the deals (the generators spread deals and leads evenly over the days). Each gets only
what the comparison needs: generate, load with the last day held back, the reference full refresh at end (for
the check), then the daily measure (full refresh at end - 1, the day lands, the daily run, which must equal the
reference). The daily run should cost the day, not the history: target <= 1.3x for 5x history.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from typing import Any

from bench.common import HISTORY_DAYS, LEADS_PER_DEAL, SEED, log, machine_info
from bench.measures_build import BuildMeasures
from bench.measures_data import DataMeasures
from orchestration.core import warehouse

HISTORY_FACTOR = 5


class HistoryBench(DataMeasures, BuildMeasures):
    """The daily measure on HISTORY_DAYS and HISTORY_FACTOR x HISTORY_DAYS of history."""

    shape = "history"

    def run(self) -> dict[str, Any]:
        started = datetime.now(UTC)
        self.start_work()
        machine = machine_info(self.server)
        project = self.freeze_project()
        base_db, work_logs = self.dbname, self.logs
        datasets = []
        for factor in (1, HISTORY_FACTOR):
            days, deals = HISTORY_DAYS * factor, self.size.deals * factor
            self.dbname = f"{base_db}_{days}d"
            self.conn = self.server.with_database(self.dbname)
            self.data_root = self.work / f"{days}d"
            self.logs = work_logs / f"{days}d"
            (self.logs / "dbt").mkdir(parents=True)
            try:
                datasets.append(self.dataset(days, deals))
            finally:
                if not self.keep:
                    warehouse.drop_database(self.conn)
                    shutil.rmtree(self.data_root, ignore_errors=True)
        self.logs = work_logs
        machine["load_average_at_end"] = list(os.getloadavg())
        short, long = (d["measures"].get("daily_incremental", {}) for d in datasets)
        ratio = None
        if short.get("status") == "ok" and long.get("status") == "ok":
            ratio = {
                "wall": round(long["seconds"] / short["seconds"], 3),
                "dbt_elapsed": round(long["dbt_elapsed_s"] / short["dbt_elapsed_s"], 3),
                "models_exec": round(
                    (long["incremental_models_exec_s"] + long["other_nodes_exec_s"])
                    / (short["incremental_models_exec_s"] + short["other_nodes_exec_s"]),
                    3,
                ),
            }
        checks = [c for d in datasets for c in d["checks"]]
        return {
            "schema_version": 1,
            "shape": "history",
            "size": self.size.name,
            "date": started.date().isoformat(),
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "repeat": self.repeat,
            "dbt_selection": self.select or "whole project",
            "project": project,
            "machine": machine,
            "history_factor": HISTORY_FACTOR,
            "end": self.end.isoformat(),
            "seed": SEED,
            "datasets": datasets,
            "daily_run_ratio": ratio,
            "checks": checks,
            "checks_passed": all(c["passed"] is not False for c in checks),
            "dbt_invocations": self.dbt_runs,
        }

    def dataset(self, days: int, deals: int) -> dict[str, Any]:
        """One dataset, in its own database: generate, load, reference, daily measure."""
        self.days, self.measures, self.checks = days, {}, []
        log(f"history {days} days: {deals:,} deals, {int(deals * LEADS_PER_DEAL):,} leads")
        generated = self.generate(self.data_dir, deals, "generate")
        held_back = self.split_day()
        load = self.load_once(self.folders(), self.dbname, "load")
        self.query("vacuum analyze")
        raw_rows = sum(int(r[0]) for r in self.query("select rows_loaded from raw.load_ledger"))
        self.discover_models()
        reference = self.dbt("reference", self.build_args(full_refresh=True, tests=False), self.vars_for(self.end))
        detail = f"nodes {reference.status_counts()}" if reference.ok else reference.problem()
        self.check("reference full refresh succeeds", reference.ok, detail)
        if reference.ok:
            self.reference_run = reference
            self.snapshot_reference()
            self.measure_daily(no_change=False)
            self.finish_parse_new_vars()
        return {
            "days": days,
            "deals": deals,
            "leads": int(deals * LEADS_PER_DEAL),
            "database": self.dbname,
            "raw_rows": raw_rows,
            "rows_per_day": round(raw_rows / (days + 1)),
            "held_back": held_back,
            "generate_s": round(sum(r.wall_s for r in generated.values()), 3),
            "load_s": round(load.inner_s, 3),
            "reference_full_build_s": round(reference.wall_s, 3),
            "measures": self.measures,
            "checks": [{**c, "name": f"{days} days: {c['name']}"} for c in self.checks],
        }
