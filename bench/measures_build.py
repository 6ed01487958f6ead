"""Measures of dbt work: full builds, the lower bound, backfills, the daily run and parsing."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from psycopg import sql

from bench.common import (
    BACKFILL_DAYS,
    BUSINESS_TIMEZONE,
    FUNNEL_MART,
    LOWER_BOUND_SCHEMA,
    LOWER_BOUND_SQL,
    ChildRun,
    DbtRun,
    Model,
    median,
    na,
    run_child,
)
from bench.landing import DayLanding
from orchestration.core import warehouse


class BuildMeasures(DayLanding):
    """full_build(_with_tests), lower_bound, backfill_30d, daily_incremental/load, no_change_build,
    no_change_funnel_build, dbt_parse*."""

    def measure_full_builds(self) -> None:
        variables = self.vars_for(self.end)
        runs = self.timed_dbt("full-build", self.build_args(full_refresh=True, tests=False), variables)
        slowest = []
        funnel_exec = incremental_exec = None
        if runs[-1].ok:
            times: dict[str, list[float]] = {}
            for run in runs:
                for node in run.nodes:
                    times.setdefault(node["unique_id"], []).append(node["execution_time"])
            per_node = {uid: median(t) for uid, t in times.items()}
            slowest = [
                {"node": uid.split(".")[-1], "seconds": round(t, 3)}
                for uid, t in sorted(per_node.items(), key=lambda kv: -kv[1])[:8]
            ]
            mart = self.model(FUNNEL_MART)
            if mart:
                funnel_exec = round(sum(t for uid, t in per_node.items() if uid in self.ancestors(mart)), 3)
            incremental = {m.unique_id for m in self.incremental_models()}
            incremental_exec = round(sum(t for uid, t in per_node.items() if uid in incremental), 3)
        self.measures["full_build"] = self.summarise(
            runs,
            slowest_nodes=slowest,
            funnel_mart_subgraph_exec_s=funnel_exec,
            incremental_models_exec_s=incremental_exec,
        )
        self.check(
            "full build (no tests) succeeds",
            runs[-1].ok,
            f"{len(runs)} run(s), nodes {runs[-1].status_counts()}" if runs[-1].ok else runs[-1].problem(),
        )

        runs = self.timed_dbt("full-build-tests", self.build_args(full_refresh=True, tests=True), variables)
        tests = {k: v for k, v in runs[-1].status_counts("test").items()}
        unit = runs[-1].status_counts("unit_test")
        self.measures["full_build_with_tests"] = self.summarise(runs, tests=tests, unit_tests=unit)
        self.reference_run = runs[-1]
        self.check(
            "full build with tests passes",
            runs[-1].ok,
            f"tests {tests}, unit tests {unit}" if runs[-1].ok else runs[-1].problem(),
        )

    # ------------------------------------------------------------------ reference and comparisons

    def measure_lower_bound(self) -> None:
        mart = self.model(FUNNEL_MART)
        if mart is None:
            self.measures["lower_bound"] = na(f"model {FUNNEL_MART} missing")
            self.check("lower bound equals the funnel mart", None, f"model {FUNNEL_MART} missing")
            return
        statement = sql.SQL(LOWER_BOUND_SQL.read_text()).format(
            source_dt=sql.Literal(self.end.isoformat()), business_timezone=sql.Literal(BUSINESS_TIMEZONE)
        )
        target = sql.Identifier(LOWER_BOUND_SCHEMA, "rep_sales_funnel_monthly")
        runs = []
        with self.db() as db:
            db.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(LOWER_BOUND_SCHEMA)))
            for _ in range(self.repeat):
                db.execute(sql.SQL("drop table if exists {}").format(target))
                self.checkpoint()
                started = time.perf_counter()
                db.execute(sql.SQL("create table {} as {}").format(target, statement))
                runs.append(time.perf_counter() - started)
            rows = warehouse.scalar(db, sql.SQL("select count(*) from {}").format(target))
        seconds = median(runs)
        full = self.measures.get("full_build", {})
        subgraph = full.get("funnel_mart_subgraph_exec_s")
        self.measures["lower_bound"] = {
            "status": "ok",
            "seconds": round(seconds, 3),
            "runs_s": [round(r, 3) for r in runs],
            "rows": rows,
            "full_build_ratio": round(full["seconds"] / seconds, 1) if full.get("status") == "ok" else None,
            "funnel_subgraph_ratio": round(subgraph / seconds, 1) if subgraph else None,
            "note": "ratios: full build wall (all models, dbt start-up included) and the summed execution time "
            "of rep_sales_funnel_monthly and its ancestors in that build, over the lower bound",
        }
        self.compare_lower_bound(mart, target)

    def compare_lower_bound(self, mart: Model, target: sql.Composable) -> None:
        names = {c for c, _ in self.columns(mart.schema, mart.alias)}
        needed = ["month", "kpi_name", "funnel_step", "deals_count"]
        if not set(needed) <= names:
            self.check("lower bound equals the funnel mart", False, f"mart lacks {sorted(set(needed) - names)}")
            return
        cols = sql.SQL(
            "cast(month as date) as month, cast(kpi_name as text) as kpi_name,"
            " cast(funnel_step as text) as funnel_step, cast(deals_count as bigint) as deals_count"
        )
        diff = sql.SQL(
            "select {label}, month, funnel_step, deals_count from"
            " (select {c} from {a} except all select {c} from {b}) as d"
        )
        rows = self.query(
            sql.SQL("{} union all {} order by 2, 3, 1").format(
                diff.format(label=sql.Literal("lower bound only"), c=cols, a=target, b=mart.relation),
                diff.format(label=sql.Literal("mart only"), c=cols, a=mart.relation, b=target),
            )
        )
        total = self.query(sql.SQL("select count(*), coalesce(sum(deals_count), 0) from {}").format(mart.relation))[0]
        sample = ", ".join(f"{r[0]}: {r[1]} step {r[2]} = {r[3]}" for r in rows[:6])
        self.check(
            "lower bound equals the funnel mart",
            not rows and total[0] > 0,
            f"{total[0]} month x step rows, {total[1]} deal-steps, identical"
            if not rows
            else f"{len(rows)} differing row(s): {sample}",
        )

    # ------------------------------------------------------------------ 6. BI queries

    def measure_backfill(self) -> None:
        name = "30-day backfill equals a full refresh"
        if not self.incremental_models():
            self.measures["backfill_30d"] = na("no incremental model yet")
            self.check(name, None, "no incremental model yet")
            return
        behind = self.end - timedelta(days=BACKFILL_DAYS)
        setup = self.dbt("setup-backfill", self.build_args(full_refresh=True, tests=False), self.vars_for(behind))
        if not setup.ok:
            self.measures["backfill_30d"] = {
                "status": "error",
                "reason": f"setup full refresh failed: {setup.problem()}",
            }
            self.check(name, False, f"setup full refresh failed: {setup.problem()}")
            return
        variables = self.vars_for(self.end, BACKFILL_DAYS - 1)
        what = f"full refresh at {behind}, then one run with source_dt={self.end}, backfill_period={BACKFILL_DAYS - 1}"
        runs = self.timed_dbt(
            "backfill", self.build_args(full_refresh=False, tests=False), variables, first_check=(name, what)
        )
        if not runs[-1].ok:
            self.check(name, False, f"backfill run failed: {runs[-1].problem()}")
        elif len(runs) > 1:
            self.compare_to_reference("repeated backfill changes nothing", f"{len(runs)} backfill runs")
        self.measures["backfill_30d"] = self.summarise(
            runs, window_days=BACKFILL_DAYS, vars=variables, slowest_nodes=self.slowest(runs[-1])
        )

    def measure_daily(self, *, no_change: bool = True) -> None:
        """A real day, like for like with the full build with tests: the evening before is a full refresh at
        end - 1 without the last day's rows; the day lands (`funnel load`, timed apart) and the Dagster daily
        job runs for it (`dbt build` of every model and data test, source_dt = end; the unit tests passed on this
        code in the full build already, so the daily job skips them). Each repeat starts from that
        evening again. Then, unless no_change is off, the same day again with nothing new landed."""
        keys = (
            "daily_incremental",
            "daily_load",
            *(("no_change_build", "no_change_funnel_build") if no_change else ()),
        )
        name = "daily incremental run equals a full refresh"
        if not self.incremental_models():
            for key in keys:
                self.measures[key] = na("no incremental model yet")
            self.check(name, None, "no incremental model yet")
            return
        before = self.end - timedelta(days=1)
        variables = self.vars_for(self.end)  # backfill_period: the project default
        runs: list[DbtRun] = []
        setups: list[DbtRun] = []
        loads: list[ChildRun] = []
        landed: dict[str, int] = {}
        for i in range(self.repeat):
            self.unland_day()
            setup = self.dbt(
                f"setup-daily-{i + 1}", self.build_args(full_refresh=True, tests=False), self.vars_for(before)
            )
            if not setup.ok:
                for key in keys:
                    self.measures[key] = {"status": "error", "reason": f"setup full refresh failed: {setup.problem()}"}
                self.check(name, False, f"setup failed: {setup.problem()}")
                return
            setups.append(setup)
            load, landed = self.land_day(f"daily-load-{i + 1}")
            loads.append(load)
            parse = self.warm_parse(variables)
            if parse is not None:
                self.measures.setdefault("_parse_new_vars_runs", []).append(parse)
            self.checkpoint()
            daily = self.build_args(full_refresh=False, tests=True, unit_tests=False)
            run = self.dbt(f"daily-{i + 1}", daily, variables)
            runs.append(run)
            if not run.ok:
                break
            if i == 0:
                what = (
                    f"full refresh at {before} without the last day's rows, then the day landed "
                    f"({sum(landed.values()):,} rows) and one daily run at {self.end}"
                )
                self.compare_to_reference(name, what)
        rows = sum(landed.values())
        self.measures["daily_load"] = {
            "status": "ok",
            "seconds": round(median(r.inner_s for r in loads), 3),
            "runs_s": [round(r.inner_s, 3) for r in loads],
            "cli_wall_s": round(median(r.wall_s for r in loads), 3),
            "rows": rows,
            "rows_per_file": landed,
            "note": f"`funnel load` of the files dated {self.end} (held back from the initial load), per source",
        }
        if not runs[-1].ok:
            for key in (k for k in keys if k != "daily_load"):
                self.measures[key] = {"status": "error", "reason": f"daily run failed: {runs[-1].problem()}"}
            self.check(name, False, f"daily run failed: {runs[-1].problem()}")
            return
        incremental = {m.unique_id for m in self.incremental_models()}

        def split(run: DbtRun) -> tuple[float, float, float]:
            """Execution seconds of (incremental models, other models and seeds, tests) in one run."""
            inc = sum(n["execution_time"] for n in run.nodes if n["unique_id"] in incremental)
            tests = sum(n["execution_time"] for n in run.nodes if n["unique_id"].split(".")[0] in ("test", "unit_test"))
            total = sum(n["execution_time"] for n in run.nodes)
            return inc, total - inc - tests, tests

        parts = [split(r) for r in runs]
        full = self.measures.get("full_build", {})
        self.measures["daily_incremental"] = self.summarise(
            runs,
            selection=f"{self.select or 'whole project'} with data tests (the Dagster daily job for a new day)",
            landed_rows=rows,
            setup=f"full refresh at {before} without the rows dated {self.end}, then the day landed",
            setup_full_build_s=round(median(r.wall_s for r in setups), 3),
            backfill_period=self.project_default("backfill_period"),
            incremental_models_exec_s=round(median(p[0] for p in parts), 3),
            other_nodes_exec_s=round(median(p[1] for p in parts), 3),
            tests_exec_s=round(median(p[2] for p in parts), 3),
            incremental_models_full_build_exec_s=full.get("incremental_models_exec_s"),
            slowest_nodes=self.slowest(runs[-1], top=12),
            slowest_tests=self.slowest(runs[-1], top=8, kind="test"),
        )
        if not no_change:
            return
        # A no-change build: the day is built already and nothing new landed; `dbt build` with tests again.
        runs = self.timed_dbt(
            "no-change-build", self.build_args(full_refresh=False, tests=True, unit_tests=False), variables
        )
        rewritten = sum((n["rows_affected"] or 0) for n in runs[-1].nodes if n["unique_id"].startswith("model."))
        self.measures["no_change_build"] = self.summarise(
            runs,
            selection=f"{self.select or 'whole project'} with data tests, same source_dt, nothing new landed",
            rows_rewritten=rewritten,
        )
        if runs[-1].ok:
            self.compare_to_reference("daily and no-change runs leave the full refresh", "after every daily run")
        else:
            self.check("no-change build passes", False, runs[-1].problem())
            self.measures["no_change_funnel_build"] = {"status": "error", "reason": "the no-change build failed"}
            return
        self.measure_skipped_build()

    def measure_skipped_build(self) -> None:
        """What the nightly run costs when nothing landed: `funnel build` (as the Dagster daily job) compares the
        load ledger, the project's files and the vars with the last build of the same step that passed
        (raw.build_ledger) and does nothing. The plain `dbt build` runs above leave no ledger row, so a first
        `funnel build` of the day records one (it builds: not timed); the next ones are measured."""
        env = {**self.env(), "FUNNEL_DAGSTER_REPORT": "off"}
        if self.select:
            env["DBT_INDIRECT_SELECTION"] = "cautious"  # as build_args: no test of a model outside the selection
        args = ["build", "--source-dt", self.end.isoformat(), *(["--select", self.select] if self.select else [])]
        self.checkpoint()
        run_child(args, env, self.logs / "skipped-build-record.log")
        runs = []
        for i in range(self.repeat):
            log_path = self.logs / f"skipped-build-{i + 1}.log"
            runs.append(run_child(args, env, log_path))
            skipped = "nothing to do" in log_path.read_text()
            if not skipped:
                break
        self.check("a no-change `funnel build` does nothing", skipped, "" if skipped else f"it built: see {log_path}")
        self.measures["no_change_funnel_build"] = {
            "status": "ok" if skipped else "error",
            "seconds": round(median(r.inner_s for r in runs), 3),
            "runs_s": [round(r.inner_s, 3) for r in runs],
            "cli_wall_s": round(median(r.wall_s for r in runs), 3),
            "note": "`funnel build --source-dt END` again after the daily run, nothing landed (the build ledger "
            "skips it); cli_wall_s includes the interpreter start",
            **({} if skipped else {"reason": f"the build was not skipped: see {log_path}"}),
        }

    def measure_parse(self) -> None:
        variables = self.last_vars or self.vars_for(self.end)
        runs = [self.dbt(f"parse-partial-{i + 1}", ["parse"], variables) for i in range(self.repeat)]
        self.measures["dbt_parse"] = {
            "status": "ok" if all(r.ok for r in runs) else "error",
            "seconds": round(median(r.wall_s for r in runs), 3),
            "runs_s": [round(r.wall_s, 3) for r in runs],
            "partial_parse_used": all(r.partial_parse for r in runs),
            "partial_parse_in_project": bool(
                re.search(r"partial_parse:\s*true", (self.project_dir / "dbt_project.yml").read_text())
            ),
            "models": len(self.models),
            "nodes": len(self.manifest_nodes),
        }

    def finish_parse_new_vars(self) -> None:
        runs: list[DbtRun] = self.measures.pop("_parse_new_vars_runs", [])
        if not runs:
            self.measures["dbt_parse_new_vars"] = na("no run changed the vars")
            return
        self.measures["dbt_parse_new_vars"] = {
            "status": "ok" if all(r.ok for r in runs) else "error",
            "seconds": round(median(r.wall_s for r in runs), 3),
            "runs_s": [round(r.wall_s, 3) for r in runs],
            "partial_parse_used": any(r.partial_parse for r in runs),
            "note": "first parse on a new source_dt (FUNNEL_VAR_SOURCE_DT, as the CLI and Dagster pass it)",
        }

    # ------------------------------------------------------------------ run all
