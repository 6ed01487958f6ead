"""`python -m bench --peer`: this product's funnel next to the simple dbt project it replaces, on the same data.

One database, the same generated Pipedrive data (the last day held back, bench/landing.py). Ours is the funnel
subgraph (`dbt run --select +rep_sales_funnel_monthly`: models only, no tests); the peer is bench/peer_project
(staging views, daily and monthly tables, the monthly funnel; `dbt run` rebuilds it whole). Each repeat: the
evening before (the day taken out), both full builds at end - 1 and the single-pass lower bound; then the day
lands and both daily runs at end. The peer's funnel must equal rep_sales_funnel_monthly for the months both
cover, after the full builds and after the daily runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.common import (
    BENCH_DIR,
    BUSINESS_TIMEZONE,
    FUNNEL_MART,
    HISTORY_DAYS,
    LOWER_BOUND_SCHEMA,
    LOWER_BOUND_SQL,
    SEED,
    BenchError,
    ChildRun,
    DbtRun,
    log,
    machine_info,
    median,
)
from bench.measures_build import BuildMeasures
from bench.measures_data import DataMeasures
from orchestration.core import warehouse

PEER_PROJECT = BENCH_DIR / "peer_project"
PEER_SCHEMA = "bench_peer"
PEER_FUNNEL = "funnel_monthly"
SUBGRAPH = f"+{FUNNEL_MART}"


class PeerBench(DataMeasures, BuildMeasures):
    """Full build and daily run of our funnel subgraph and of the peer project, side by side."""

    shape = "peer"

    def run(self) -> dict[str, Any]:
        started = datetime.now(UTC)
        self.start_work()
        machine = machine_info(self.server)
        project = self.freeze_project()
        peer = self.freeze_peer()
        log(f"peer, size {self.size.name}: {self.size.deals:,} deals (Pipedrive only), repeat {self.repeat}")
        try:
            self.prepare()
            self.measure_side_by_side()
            self.finish_parse_new_vars()
        finally:
            if not self.keep:
                warehouse.drop_database(self.conn)
                for path in (self.data_dir, self.day_dir):
                    shutil.rmtree(path, ignore_errors=True)
        machine["load_average_at_end"] = list(os.getloadavg())
        m = self.measures
        ratios = {}
        for key in ("full_build", "daily_run"):
            ours, theirs = m.get(f"ours_{key}", {}), m.get(f"peer_{key}", {})
            if ours.get("status") == "ok" and theirs.get("status") == "ok":
                ratios[key] = round(theirs["seconds"] / ours["seconds"], 3)
        return {
            "schema_version": 1,
            "shape": "peer",
            "size": self.size.name,
            "date": started.date().isoformat(),
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": {
                "deals": self.size.deals,
                "history_days": HISTORY_DAYS,
                "end": self.end.isoformat(),
                "seed": SEED,
                "raw_rows": m.get("load", {}).get("rows"),
            },
            "repeat": self.repeat,
            "project": project,
            "peer_project": peer,
            "database": self.dbname,
            "machine": machine,
            "measures": m,
            "peer_over_ours": ratios,
            "checks": self.checks,
            "checks_passed": all(c["passed"] is not False for c in self.checks),
            "dbt_invocations": self.dbt_runs,
        }

    def freeze_peer(self) -> dict[str, Any]:
        """The peer project, copied like ours (freeze_project) so that its runs see the same code."""
        shutil.copytree(PEER_PROJECT, self.peer_dir, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
        digest = hashlib.sha256()
        for path in sorted(p for p in self.peer_dir.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(self.peer_dir)).encode() + b"\0" + path.read_bytes())
        models = sorted(p.stem for p in self.peer_dir.rglob("*.sql"))
        return {"root": str(PEER_PROJECT), "sha256": digest.hexdigest()[:16], "models": models}

    @property
    def peer_dir(self) -> Path:
        return self.work / "peer_project"

    @property
    def peer(self) -> tuple[Path, Path, str]:
        """The peer's (project dir, target path, schema) for self.dbt."""
        return self.peer_dir, self.work / "peer_target", PEER_SCHEMA

    def prepare(self) -> None:
        """Pipedrive only (the funnel reads nothing else), loaded with the last day; our seeds (static, like the
        peer's mapping) once."""
        log(f"generating {self.size.deals:,} deals into {self.data_dir}")
        self.generate(self.data_dir, self.size.deals, "generate", ("pipedrive",))
        self.measures["generate"] = {"status": "ok", "held_back": self.split_day()}
        load = self.load_once(self.folders(), self.dbname, "load")
        self.query("vacuum analyze")
        rows = sum(int(r[0]) for r in self.query("select rows_loaded from raw.load_ledger"))
        self.measures["load"] = {"status": "ok", "rows": rows, "seconds": round(load.inner_s, 3)}
        self.discover_models()
        seed = self.dbt("seed", ["seed", "--select", SUBGRAPH], self.vars_for(self.end))
        if not seed.ok:
            raise BenchError(f"dbt seed failed: {seed.problem()}", f"see {seed.log_path}")

    def measure_side_by_side(self) -> None:
        before = self.end - timedelta(days=1)
        runs: dict[str, list[DbtRun]] = {
            k: [] for k in ("ours_full_build", "peer_full_build", "ours_daily_run", "peer_daily_run")
        }
        reparse: list[float] = []
        loads: list[ChildRun] = []
        bounds: list[float] = []
        landed: dict[str, int] = {}
        for i in range(self.repeat):
            self.unland_day()
            # the evening before: both full builds on the data without the last day
            self.warm_parse(self.vars_for(before))
            if not self.timed(runs["ours_full_build"], f"ours-full-{i + 1}", ["run", "--full-refresh"], before):
                break
            bounds.append(self.lower_bound(before, check=i == 0))
            if not self.timed(runs["peer_full_build"], f"peer-full-{i + 1}", ["run"], None):
                break
            if i == 0:
                self.compare_funnels("after the full builds", f"both at {before}")
            # the morning: the day lands, both daily runs
            load, landed = self.land_day(f"daily-load-{i + 1}")
            loads.append(load)
            parse = self.warm_parse(self.vars_for(self.end))
            if parse is not None:
                reparse.append(parse.wall_s)
                self.measures.setdefault("_parse_new_vars_runs", []).append(parse)
            if not self.timed(runs["ours_daily_run"], f"ours-daily-{i + 1}", ["run"], self.end):
                break
            if not self.timed(runs["peer_daily_run"], f"peer-daily-{i + 1}", ["run"], None):
                break
            if i == 0:
                self.compare_funnels("after the daily runs", f"the day landed, both daily runs at {self.end}")
        for key, done in runs.items():
            if not done:
                self.measures[key] = {"status": "error", "reason": "not run: an earlier step failed"}
                continue
            models = [[n for n in r.nodes if n["unique_id"].startswith("model.")] for r in done]
            self.measures[key] = self.summarise(
                done,
                models=len(models[-1]),
                models_exec_s=round(median(sum(n["execution_time"] for n in m) for m in models), 3),
                slowest_nodes=self.slowest(done[-1], 3),
            )
        if reparse and self.measures["ours_daily_run"]["status"] == "ok":
            self.measures["ours_daily_run"]["reparse_new_vars_s"] = round(median(reparse), 3)
        if loads:
            self.measures["daily_load"] = {
                "status": "ok",
                "seconds": round(median(r.inner_s for r in loads), 3),
                "runs_s": [round(r.inner_s, 3) for r in loads],
                "rows": sum(landed.values()),
                "rows_per_file": landed,
            }
        full = self.measures["ours_full_build"]
        if bounds and full["status"] == "ok":
            bound = median(bounds)
            self.measures["lower_bound"] = {
                "status": "ok",
                "seconds": round(bound, 3),
                "runs_s": [round(b, 3) for b in bounds],
                "ours_full_build_ratio": round(full["seconds"] / bound, 1),
                "ours_full_build_exec_ratio": round(full["models_exec_s"] / bound, 1),
                "note": "lower_bound.sql at end - 1 on the same data; ratios: our funnel subgraph's full build "
                "(wall, dbt start-up included; and the models' summed execution) over it",
            }

    def timed(self, runs: list[DbtRun], label: str, args: list[str], day: date | None) -> bool:
        """One timed run, ours (`day` = its source_dt) or the peer's (day None); False when it failed."""
        self.checkpoint()
        if day is None:
            run = self.dbt(label, args, None, project=self.peer)
        else:
            run = self.dbt(label, [*args, "--select", SUBGRAPH], self.vars_for(day))
        runs.append(run)
        if not run.ok:
            self.check(f"{label} succeeds", False, run.problem())
        return run.ok

    def lower_bound(self, day: date, *, check: bool) -> float:
        """lower_bound.sql once at `day`; the first time, its result is compared with our mart."""
        statement = sql.SQL(LOWER_BOUND_SQL.read_text()).format(
            source_dt=sql.Literal(day.isoformat()), business_timezone=sql.Literal(BUSINESS_TIMEZONE)
        )
        target = sql.Identifier(LOWER_BOUND_SCHEMA, FUNNEL_MART)
        with self.db() as db:
            db.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(LOWER_BOUND_SCHEMA)))
            db.execute(sql.SQL("drop table if exists {}").format(target))
            self.checkpoint()
            started = time.perf_counter()
            db.execute(sql.SQL("create table {} as {}").format(target, statement))
            seconds = time.perf_counter() - started
        mart = self.model(FUNNEL_MART)
        if check and mart is not None:
            self.compare_lower_bound(mart, target)
        return seconds

    def compare_funnels(self, when: str, what: str) -> None:
        """The peer's deals per month and step equal our mart's deals_count, for the months both have (the
        peer lists only pairs with a deal: a pair it lacks counts 0)."""
        mart = self.model(FUNNEL_MART)
        name = f"peer funnel equals rep_sales_funnel_monthly {when}"
        if mart is None:
            self.check(name, None, f"model {FUNNEL_MART} missing")
            return
        peer = sql.Identifier(PEER_SCHEMA, PEER_FUNNEL)
        rows = self.query(
            sql.SQL(
                "with months as (select month from {ours} intersect select month from {peer}),"
                " ours as (select cast(month as date) as month, cast(funnel_step as text) as funnel_step,"
                " cast(deals_count as bigint) as deals_count from {ours} where month in (select month from months)),"
                " theirs as (select month, funnel_step, deals_count from {peer}"
                " where month in (select month from months)),"
                " diff as (select month, funnel_step, ours.deals_count as ours_count,"
                " coalesce(theirs.deals_count, 0) as peer_count from ours full join theirs using (month, funnel_step)"
                " where coalesce(ours.deals_count, -1) <> coalesce(theirs.deals_count, 0))"
                " select (select count(*) from months),"
                " (select count(distinct month) from {ours}), (select count(distinct month) from {peer}),"
                " (select coalesce(sum(deals_count), 0) from ours), (select count(*) from diff),"
                " (select string_agg(month || ' step ' || funnel_step || ': ours ' || coalesce(ours_count, -1)"
                " || ', peer ' || peer_count, '; ') from (select * from diff order by 1, 2 limit 6) as d)"
            ).format(ours=mart.relation, peer=peer)
        )[0]
        months, ours_months, peer_months, deal_steps, differing, sample = rows
        self.check(
            name,
            differing == 0 and months > 0,
            f"{what}: {months} months both cover (ours {ours_months}, peer {peer_months}), "
            + (f"{deal_steps} deal-steps, identical" if differing == 0 else f"{differing} differing pair(s): {sample}"),
        )
