"""The harness every measure runs on: its databases, dbt runs, the manifest's models and the reference build."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.common import (
    DBT_SCHEMA,
    END,
    FLOAT_TYPES,
    HISTORY_DAYS,
    LEADS_PER_DEAL,
    REF_SCHEMA,
    SEED,
    SIZES,
    VOLATILE_COLUMN,
    BenchError,
    DbtRun,
    Model,
    Size,
    git_describe,
    log,
    median,
    run_child,
)
from orchestration.core import warehouse
from orchestration.core.dbt import dbt_env, dbt_executable
from orchestration.core.manifest import read_manifest
from orchestration.core.settings import DBT_PROJECT_DIR, REPO_ROOT, funnel_home


class BenchBase:
    """State of one benchmark run and the primitives the measures share."""

    reference_run: DbtRun  # the full build the others are compared with (measure_full_builds sets it)
    shape = "full"  # what the run measures: full (every measure), history or peer; names its database and result

    def __init__(self, args: argparse.Namespace) -> None:
        self.size: Size = SIZES[args.size]
        self.repeat: int = args.repeat or self.size.repeat
        self.bi_runs: int = args.bi_runs
        self.out_dir = Path(args.out).resolve()
        self.keep = args.keep
        self.select: str | None = args.select
        self.built: set[str] = set()  # models the reference build built
        self.project_root = Path(args.project_root).resolve() if args.project_root else REPO_ROOT
        self.server = warehouse.start()
        suffix = "" if self.shape == "full" else f"_{self.shape}"
        self.dbname = args.database or f"bench_{self.size.name.lower()}{suffix}"
        self.work = Path(args.work or funnel_home() / "bench" / self.dbname).resolve()
        self.project_dir = self.work / "project" / DBT_PROJECT_DIR.name  # a frozen copy, see freeze_project
        self.conn = self.server.with_database(self.dbname)
        self.end = END
        self.days = HISTORY_DAYS
        self.data_root = self.work  # where the generated files go (a folder per dataset in --shape history)
        self.target_path = self.work / "target"
        self.logs = self.work / "logs"
        self.checks: list[dict[str, Any]] = []
        self.measures: dict[str, Any] = {}
        self.models: dict[str, Model] = {}
        self.dbt_runs = 0
        self.last_vars: dict[str, object] | None = None

    def run(self) -> dict[str, Any]:
        """Every measure of the shape, in order; the result written as JSON (bench/__main__.py)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def start_work(self) -> None:
        """A clean scratch folder: the previous run's files would mix with this one's."""
        if self.work.exists():
            shutil.rmtree(self.work)
        (self.logs / "dbt").mkdir(parents=True)

    def env(
        self, target_path: Path | None = None, schema: str = DBT_SCHEMA, variables: dict[str, object] | None = None
    ) -> dict[str, str]:
        env = dbt_env(self.conn, target="dev", schema=schema, variables=variables)
        env["FUNNEL_DB_NAME"] = self.conn.dbname
        env["DBT_TARGET_PATH"] = str(target_path or self.target_path)
        env["DBT_LOG_PATH"] = str(self.logs / "dbt")
        env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        return env

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.conn.url(), autocommit=True, prepare_threshold=None)

    def query(self, statement: sql.SQL | sql.Composed | str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.db() as db:
            cur = db.execute(statement if isinstance(statement, sql.Composable) else sql.SQL(statement), params)
            return cur.fetchall() if cur.description else []

    def checkpoint(self) -> None:
        """Flush dirty buffers before a timed run so one run does not pay for the previous one's writes."""
        with contextlib.suppress(psycopg.Error):
            self.query("checkpoint")

    def check(self, name: str, passed: bool | None, detail: str) -> bool | None:
        self.checks.append({"name": name, "passed": passed, "detail": detail})
        mark = {True: "ok", False: "FAILED", None: "n/a"}[passed]
        log(f"check {name}: {mark} - {detail}")
        return passed

    def vars_for(self, source_dt: date, backfill_period: int | None = None) -> dict[str, object]:
        out: dict[str, object] = {"source_dt": source_dt.isoformat()}
        if backfill_period is not None:
            out["backfill_period"] = backfill_period
        return out

    def dbt(
        self,
        label: str,
        args: list[str],
        variables: dict[str, object] | None,
        project: tuple[Path, Path, str] | None = None,
    ) -> DbtRun:
        """One dbt command on the frozen project, or on `project` = (project dir, target path, schema)."""
        project_dir, target_path, schema = project or (self.project_dir, self.target_path, DBT_SCHEMA)
        self.dbt_runs += 1
        log_path = self.logs / f"{self.dbt_runs:03d}-{label}.log"
        results = target_path / "run_results.json"
        results.unlink(missing_ok=True)
        with log_path.open("w") as out:
            started = time.perf_counter()
            proc = subprocess.run(
                [
                    dbt_executable(),
                    *args,
                    "--project-dir",
                    str(project_dir),
                    "--profiles-dir",
                    str(project_dir),
                ],
                # as `funnel build` and Dagster pass them: in the environment, so a new day keeps the parse cache
                env=self.env(target_path, schema, variables),
                cwd=project_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
            wall = time.perf_counter() - started
        if project is None:  # the vars our project last parsed with (warm_parse)
            self.last_vars = variables
        text = log_path.read_text(errors="replace")
        partial = "Unable to do partial parsing" not in text and "Starting full parse" not in text
        nodes: list[dict[str, Any]] = []
        elapsed = None
        if results.exists():
            data = json.loads(results.read_text())
            elapsed = data.get("elapsed_time")
            for node in data.get("results", []):
                response = node.get("adapter_response") or {}
                nodes.append(
                    {
                        "unique_id": node["unique_id"],
                        "status": node["status"],
                        "execution_time": node.get("execution_time") or 0.0,
                        "rows_affected": response.get("rows_affected"),
                    }
                )
        run = DbtRun(label, proc.returncode == 0, wall, elapsed, nodes, partial, log_path)
        log(f"dbt {label}: {'ok' if run.ok else 'FAILED'} in {wall:.1f}s")
        return run

    def build_args(
        self, *, full_refresh: bool, tests: bool, only: str | None = None, unit_tests: bool = True
    ) -> list[str]:
        """`dbt build` of the benchmarked selection (whole project by default); `only` intersects it. unit_tests
        off: as a daily run on code whose unit tests passed already (orchestration/core/build_state.py)."""
        args = ["build"]
        if full_refresh:
            args.append("--full-refresh")
        parts = self.select.split() if self.select else []
        if only:
            parts = [f"{only},{part}" for part in parts] if parts else [only]
        if parts:
            # cautious: a test runs only when every model it reads is selected (built in this database)
            args += ["--select", *parts, "--indirect-selection", "cautious"]
        if not tests:
            args += ["--exclude", "resource_type:test", "resource_type:unit_test"]
        elif not unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        return args

    def warm_parse(self, variables: dict[str, object]) -> DbtRun | None:
        """Parse with the next run's vars first, so timed runs are steady-state: the first run on new vars pays
        a parse (partial since the vars travel as FUNNEL_VAR_*, measured apart as dbt_parse_new_vars)."""
        if variables == self.last_vars:
            return None
        return self.dbt("parse-new-vars", ["parse"], variables)

    def timed_dbt(
        self,
        label: str,
        args: list[str],
        variables: dict[str, object],
        first_check: tuple[str, str] | None = None,
    ) -> list[DbtRun]:
        """`--repeat` runs of one dbt command after a parse with its vars. first_check = (check name, what):
        the first run, the one that starts from the setup state, is compared with the full-refresh reference."""
        parse = self.warm_parse(variables)
        if parse is not None:
            self.measures.setdefault("_parse_new_vars_runs", []).append(parse)
        runs = []
        for i in range(self.repeat):
            self.checkpoint()
            run = self.dbt(f"{label}-{i + 1}", args, variables)
            runs.append(run)
            if not run.ok:
                break
            if first_check and i == 0:
                self.compare_to_reference(*first_check)
        return runs

    def summarise(self, runs: list[DbtRun], **extra: Any) -> dict[str, Any]:
        if not runs[-1].ok:
            return {
                "status": "error",
                "reason": f"dbt failed ({runs[-1].problem(5)})",
                "log": str(runs[-1].log_path),
                "tail": runs[-1].tail(),
            }
        out = {
            "status": "ok",
            "seconds": round(median(r.wall_s for r in runs), 3),
            "runs_s": [round(r.wall_s, 3) for r in runs],
            "dbt_elapsed_s": round(median(r.elapsed_s or 0.0 for r in runs), 3),
            "nodes": runs[-1].status_counts(),
        }
        out.update(extra)
        return out

    def model(self, name: str) -> Model | None:
        """A model by its issue name; a rename that keeps the name inside (fct_x, x_v2) is still found."""
        if name in self.models:
            return self.models[name]
        found = [m for n, m in self.models.items() if name in n]
        return found[0] if len(found) == 1 else None

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return [
            (str(r[0]), str(r[1]))
            for r in self.query(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            )
        ]

    def freeze_project(self) -> dict[str, Any]:
        """Copy the dbt project (with its ../macros, ../seeds and profile) into the work folder and run dbt
        there: every run of the benchmark sees the same code, even while someone edits the repository."""
        root = self.project_dir.parent
        ignore = shutil.ignore_patterns("target", "logs", ".user.yml", "__pycache__")
        for name in (DBT_PROJECT_DIR.name, "macros", "seeds"):
            shutil.copytree(self.project_root / name, root / name, symlinks=True, ignore=ignore)
        shutil.copy2(self.project_root / "profiles.example.yml", root / "profiles.example.yml")
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        if self.project_root != REPO_ROOT:
            return {"root": str(self.project_root), "sha256": digest.hexdigest()[:16]}
        return {"root": "repository", "sha256": digest.hexdigest()[:16], "git": git_describe()}

    # ------------------------------------------------------------------ 1. generate

    def generate(
        self, out: Path, deals: int, log_prefix: str, sources: tuple[str, ...] = ("pipedrive", "field_crm")
    ) -> dict[str, Any]:
        if out.exists():
            shutil.rmtree(out)
        runs = {}
        common = ["--seed", str(SEED), "--end", self.end.isoformat(), "--days", str(self.days)]
        for source, amount in (
            ("pipedrive", ["--deals", str(deals)]),
            ("field_crm", ["--leads", str(int(deals * LEADS_PER_DEAL))]),
        ):
            if source not in sources:
                continue
            runs[source] = run_child(
                ["generate", source, "--out", str(out / source), *amount, *common],
                os.environ.copy(),
                self.logs / f"{log_prefix}-generate-{source}.log",
            )
        return runs

    def discover_models(self) -> None:
        run = self.dbt("parse", ["parse"], self.vars_for(self.end))
        if not run.ok:
            raise BenchError(f"dbt parse failed:\n{run.tail()}", f"see {run.log_path}")
        self.load_manifest()
        log(f"{len(self.models)} models ({len(self.incremental_models())} incremental)")

    def load_manifest(self) -> None:
        manifest = read_manifest(self.target_path)
        self.models = {}
        for node in manifest["nodes"].values():
            if node["resource_type"] != "model":
                continue
            self.models[node["name"]] = Model(
                node["unique_id"],
                node["name"],
                node["schema"],
                node.get("alias") or node["name"],
                node["config"]["materialized"],
            )
        self.manifest_nodes = manifest["nodes"]

    def ancestors(self, model: Model) -> set[str]:
        seen: set[str] = set()
        stack = [model.unique_id]
        while stack:
            uid = stack.pop()
            if uid in seen:
                continue
            seen.add(uid)
            stack.extend(self.manifest_nodes.get(uid, {}).get("depends_on", {}).get("nodes", []))
        return seen

    # ------------------------------------------------------------------ 4. full builds

    def persisted_models(self) -> list[Model]:
        """Table and incremental models the reference build built (all of them unless --select)."""
        return sorted(
            (m for m in self.models.values() if m.persisted and m.unique_id in self.built), key=lambda m: m.name
        )

    def ref_table(self, model: Model) -> sql.Composable:
        return sql.Identifier(REF_SCHEMA, f"{model.schema}__{model.alias}"[:63])

    def snapshot_reference(self) -> None:
        """Keep a copy of every table the full refresh built: the truth later runs are compared with."""
        self.load_manifest()
        self.built = {n["unique_id"] for n in self.reference_run.nodes if n["status"] == "success"}
        with self.db() as db:
            db.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(REF_SCHEMA)))
            db.execute(sql.SQL("create schema {}").format(sql.Identifier(REF_SCHEMA)))
            for model in self.persisted_models():
                db.execute(sql.SQL("create table {} as select * from {}").format(self.ref_table(model), model.relation))

    def compare_to_reference(self, name: str, what: str) -> bool:
        """Every table/incremental model equals the full-refresh reference, row for row (multiset except)."""
        differences = []
        for model in self.persisted_models():
            cols = self.columns(model.schema, model.alias)
            ref_name = f"{model.schema}__{model.alias}"[:63]
            ref_cols = self.columns(REF_SCHEMA, ref_name)
            if [c for c, _ in cols] != [c for c, _ in ref_cols]:
                differences.append(f"{model.name}: columns differ")
                continue
            exprs = []
            for col, dtype in cols:
                if VOLATILE_COLUMN.search(col):
                    continue
                expr: sql.Composable = sql.Identifier(col)
                if dtype in FLOAT_TYPES:  # parallel float sums may differ in the last bits
                    expr = sql.SQL("round(cast({} as numeric), 6)").format(expr)
                exprs.append(sql.SQL("cast({} as text)").format(expr))
            select = sql.SQL(", ").join(exprs) if exprs else sql.SQL("1")
            row = self.query(
                sql.SQL(
                    "select (select count(*) from (select {s} from {a} except all select {s} from {b}) as x),"
                    " (select count(*) from (select {s} from {b} except all select {s} from {a}) as y)"
                ).format(s=select, a=model.relation, b=self.ref_table(model))
            )[0]
            if row[0] or row[1]:
                differences.append(f"{model.name}: {row[0]} row(s) not in the full refresh, {row[1]} missing")
        models = len(self.persisted_models())
        return bool(
            self.check(
                name,
                not differences,
                f"{what}: {models} table/incremental models equal the full refresh"
                if not differences
                else f"{what}: " + "; ".join(differences[:10]),
            )
        )

    # ------------------------------------------------------------------ 5. lower bound

    def incremental_models(self) -> list[Model]:
        return [m for m in self.models.values() if m.materialized == "incremental"]

    def project_default(self, var: str) -> object:
        text = (self.project_dir / "dbt_project.yml").read_text()
        match = re.search(rf"^\s+{var}:\s*(\S+)", text, re.MULTILINE)
        return int(match.group(1)) if match and match.group(1).isdigit() else (match.group(1) if match else None)

    def slowest(self, run: DbtRun, top: int = 5, kind: str = "model") -> list[dict[str, Any]]:
        """The run's `top` slowest nodes of `kind` (model, test): where a run's time goes, for the report."""
        nodes = sorted(
            (n for n in run.nodes if n["unique_id"].startswith(f"{kind}.")), key=lambda n: -n["execution_time"]
        )
        return [
            {
                "node": n["unique_id"].split(".")[2],
                "seconds": round(n["execution_time"], 3),
                "rows": n["rows_affected"],
            }
            for n in nodes[:top]
        ]

    # ------------------------------------------------------------------ 8. parse

    @property
    def data_dir(self) -> Path:
        """The generated files but the last day's rows of the event tables: the initial load."""
        return self.data_root / "data"

    @property
    def day_dir(self) -> Path:
        """The last generated day's rows of the event tables, as the next morning's drop (bench/landing.py)."""
        return self.data_root / "day"

    @property
    def probe_dir(self) -> Path:
        return self.data_root / "probe"
