"""Measures of data volume: generating, landing (with the COPY floor) and the BI queries on the marts."""

from __future__ import annotations

import csv
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.common import (
    ACTIVITY_MART,
    FLOOR_SCHEMA,
    FUNNEL_MART,
    MEMORY_PROBE_SHARE,
    NUMERIC_TYPES,
    QUERIES_DIR,
    VELOCITY_MART,
    BenchError,
    Model,
    add_months,
    log,
    median,
    na,
    percentile,
)
from bench.landing import DayLanding
from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES, raw_schema
from orchestration.core.contracts import source_tables as source_tables_of
from orchestration.ingest.loader import LINE_SEQ_CACHE, lineage_defaults


class DataMeasures(DayLanding):
    """generate, load and bi_queries."""

    def measure_generate(self) -> None:
        log(f"generating {self.size.deals:,} deals and {self.size.leads:,} leads into {self.data_dir}")
        runs = self.generate(self.data_dir, self.size.deals, "full")
        held_back = self.split_day()
        probe = max(1, self.size.deals // MEMORY_PROBE_SHARE)
        probe_runs = self.generate(self.probe_dir, probe, "probe")
        files = {
            source: {
                p.name: p.stat().st_size for d in (self.data_dir, self.day_dir) for p in (d / source).glob("*.csv")
            }
            for source in SOURCES
        }
        self.measures["generate"] = {
            "status": "ok",
            "seconds": round(sum(r.wall_s for r in runs.values()), 3),
            "per_source_s": {s: round(r.wall_s, 3) for s, r in runs.items()},
            "peak_rss_mb": max(r.peak_rss_mb for r in runs.values()),
            "per_source_peak_rss_mb": {s: r.peak_rss_mb for s, r in runs.items()},
            "probe_deals": probe,
            "probe_peak_rss_mb": max(r.peak_rss_mb for r in probe_runs.values()),
            "bytes": sum(sum(f.values()) for f in files.values()),
            "held_back": held_back,
            "runs": 1,
            "note": "run once per size: generation is deterministic; memory at 1/10 of the size is the flatness probe",
        }

    # ------------------------------------------------------------------ 2. load

    def copy_floor(self) -> dict[str, Any]:
        """Bare COPY of the same files: into plain all-text tables (the floor), and into tables shaped like
        the raw ones (same lineage defaults: file name, sha256, load id, line number from a sequence), which
        tells the cost of the lineage columns apart from the loader's own overhead."""
        files = [
            (source, p)
            for d in (self.data_dir, self.day_dir)
            for source in SOURCES
            for p in sorted((d / source).glob("*.csv"))
        ]
        contract = {(s, t.name): t for s in SOURCES for t in source_tables_of(s)}
        floor_ident = sql.Identifier(FLOOR_SCHEMA)
        rows: dict[str, int] = {}
        timings: dict[str, list[float]] = {"plain": [], "raw_shape": []}
        with self.db() as db:
            db.execute(sql.SQL("drop schema if exists {} cascade").format(floor_ident))
            db.execute(sql.SQL("create schema {}").format(floor_ident))
            # shape -> (source, file, table, COPY target, COPY options)
            targets: dict[str, list[tuple[str, Path, sql.Composable, sql.Composable, sql.Composable]]] = {
                "plain": [],
                "raw_shape": [],
            }
            for source, path in files:
                with path.open(newline="", encoding="utf-8-sig") as fh:
                    width = len(next(csv.reader(fh)))
                names = [f"c{i}" for i in range(width)]
                cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in names)
                plain = sql.Identifier(FLOOR_SCHEMA, f"{source}__{path.stem}")
                db.execute(sql.SQL("create table {} ({})").format(plain, cols))
                targets["plain"].append((source, path, plain, plain, sql.SQL("(format csv, header true)")))
                table = contract[(source, path.stem.split("__")[0])]
                shaped = sql.Identifier(FLOOR_SCHEMA, f"{source}__{path.stem}__raw_shape")
                seq = sql.Identifier(FLOOR_SCHEMA, f"{source}__{path.stem}__seq")
                db.execute(sql.SQL("create sequence {} cache {}").format(seq, sql.Literal(LINE_SEQ_CACHE)))
                db.execute(
                    sql.SQL("create table {} (like {} including defaults)").format(
                        shaped, sql.Identifier(raw_schema(source), table.name)
                    )
                )
                line_default = lineage_defaults(f"{FLOOR_SCHEMA}.{source}__{path.stem}__seq")["_source_line"]
                db.execute(
                    sql.SQL("alter table {} alter column _source_line set default {}").format(
                        shaped, sql.SQL(line_default)
                    )
                )
                column_list = sql.SQL(", ").join(map(sql.Identifier, table.columns))
                targets["raw_shape"].append(
                    (
                        source,
                        path,
                        shaped,
                        sql.SQL("{} ({})").format(shaped, column_list),
                        sql.SQL("(format csv, header true, force_not_null ({}))").format(column_list),
                    )
                )
            db.autocommit = False
            for _ in range(self.repeat):
                for shape, items in targets.items():
                    with db.transaction():
                        for _, _, relation, _, _ in items:
                            db.execute(sql.SQL("truncate {}").format(relation))
                    self.checkpoint()
                    started = time.perf_counter()
                    for source, path, _, target, options in items:
                        copy_sql = sql.SQL("copy {} from stdin {}").format(target, options)
                        with db.transaction(), db.cursor() as cur:
                            if shape == "raw_shape":
                                cur.execute(
                                    "select set_config('funnel.source_file', %s, true),"
                                    " set_config('funnel.file_sha256', %s, true),"
                                    " set_config('funnel.load_id', '0', true),"
                                    " set_config('funnel.line_offset', '0', true)",
                                    (path.name, "0" * 64),
                                )
                            with cur.copy(copy_sql) as copy, path.open("rb") as fh:
                                while chunk := fh.read(1 << 20):
                                    copy.write(chunk)
                            if shape == "plain":
                                rows[f"{source}/{path.name}"] = cur.rowcount
                    timings[shape].append(time.perf_counter() - started)
            db.autocommit = True
            db.execute(sql.SQL("drop schema {} cascade").format(floor_ident))
        return {"rows": rows, **timings}

    def measure_load(self) -> None:
        """The whole dataset: the initial load, then the held-back day as its own files (as the daily measure
        lands it, so every build compares with the same raw rows and load ids)."""
        runs = []
        for i in range(self.repeat):
            log(f"load {i + 1}/{self.repeat} into {self.dbname}")
            runs.append(self.load_once(self.folders(), self.dbname, f"load-{i + 1}"))
        ledger = self.query(
            "select source, file_name, data_lines, rows_loaded, rows_rejected from raw.load_ledger"
            " where superseded_by is null order by source, file_name"
        )
        log("bare COPY floor")
        copies = self.copy_floor()
        floor_runs, floor_rows = copies["plain"], copies["rows"]
        log("memory probe: loading 1/10 of the size")
        probe_db = f"{self.dbname}_probe"
        probe = self.load_once([self.probe_dir], probe_db, "probe-load")
        warehouse.drop_database(self.conn.with_database(probe_db))
        # The raw tables get statistics and a visibility map before anything reads them.
        self.query("vacuum analyze")

        loaded = {f"{s}/{f}": (int(d), int(r), int(j)) for s, f, d, r, j in ledger}
        rows = sum(r for _, r, _ in loaded.values())
        mismatched = [
            f"{name}: file {floor_rows.get(name)} rows, loaded {r}, rejected {j}, lines {d}"
            for name, (d, r, j) in loaded.items()
            if r + j != d or floor_rows.get(name) != r + j
        ]
        missing = sorted(set(floor_rows) - set(loaded))
        self.check(
            "load reconciles",
            not mismatched and not missing and rows > 0,
            f"{len(loaded)} files, {rows:,} raw rows = bare COPY rows = data lines"
            if not mismatched and not missing
            else "; ".join(mismatched + [f"{m}: not loaded" for m in missing]),
        )
        inner = median(r.inner_s for r in runs)
        floor = median(floor_runs)
        self.measures["load"] = {
            "status": "ok",
            "rows": rows,
            "rejected": sum(j for _, _, j in loaded.values()),
            "seconds": round(inner, 3),
            "runs_s": [round(r.inner_s, 3) for r in runs],
            "rows_per_s": round(rows / inner),
            "cli_wall_s": round(median(r.wall_s for r in runs), 3),
            "copy_floor_s": round(floor, 3),
            "copy_floor_runs_s": [round(r, 3) for r in floor_runs],
            "copy_raw_shape_s": round(median(copies["raw_shape"]), 3),
            "copy_raw_shape_rows_per_s": round(rows / median(copies["raw_shape"])),
            "copy_floor_rows_per_s": round(rows / floor),
            "ratio_to_copy": round(floor / inner, 3),
            "peak_rss_mb": max(r.peak_rss_mb for r in runs),
            "probe_peak_rss_mb": probe.peak_rss_mb,
            "rows_per_file": {name: r for name, (_, r, _) in loaded.items()},
            "note": "`funnel load` time after interpreter start (cli_wall_s includes it), the initial load and the "
            "last day's files; floor = client-side COPY of the same bytes into all-text tables",
        }

    # ------------------------------------------------------------------ 3. models

    def bi_plan(self, statement: sql.Composable) -> list[str]:
        plan = self.query(sql.SQL("explain (format json) {}").format(statement))[0][0]
        nodes: list[str] = []

        def walk(node: dict[str, Any]) -> None:
            if "Scan" in node["Node Type"]:
                target = node.get("Index Name") or node.get("Relation Name") or ""
                nodes.append(f"{node['Node Type']} {target}".strip())
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        return nodes

    @staticmethod
    def pick(columns: list[tuple[str, str]], patterns: list[str], types: set[str] | None = None) -> str | None:
        for pattern in patterns:
            for name, dtype in columns:
                if re.search(pattern, name) and (types is None or dtype in types):
                    return name
        return None

    def bi_statement(self, query: str, model: Model) -> sql.Composed:
        cols = self.columns(model.schema, model.alias)
        # The last complete month and quarter up to source_dt (end = 2025-06-30: June, Q2).
        after = self.end + timedelta(days=1)
        next_month = date(after.year, after.month, 1)
        month_start = add_months(next_month, -1)
        quarter_end = date(after.year, after.month - (after.month - 1) % 3, 1)
        quarter_start = add_months(quarter_end, -3)
        params: dict[str, sql.Composable] = {"relation": model.relation}
        if query == "funnel_month_by_step":
            params["start"] = sql.Literal(month_start)
        else:
            date_col = self.pick(cols, [r"^date$", r"^date_day$", r"_date$", r"^day$", r"date|day"], {"date"})
            if date_col is None:
                raise BenchError(f"no date column in {model.name} (columns: {', '.join(c for c, _ in cols)})")
            dims: dict[str, str | None] = {}
            if query == "pipeline_velocity_quarter_by_stage_region":
                start, end = quarter_start, quarter_end
                dims["stage"] = self.pick(cols, [r"^stage_name$", r"stage.*name", r"^stage_id$", r"stage"])
                dims["region"] = self.pick(cols, [r"^region$", r"region"])
            else:
                start, end = month_start, next_month
                dims["owner"] = self.pick(cols, [r"^owner_id$", r"owner", r"^user_id$", r"user", r"assigned"])
            for dim, col in dims.items():
                if col is None:
                    raise BenchError(f"no {dim} column in {model.name} (columns: {', '.join(c for c, _ in cols)})")
            used = {date_col, *dims.values()}
            measures: list[sql.Composable] = []
            for name, dtype in cols:
                if name in used or dtype not in NUMERIC_TYPES or re.search(r"(^|_)id$", name):
                    continue
                agg = "avg" if re.search(r"avg|average|rate|ratio|velocity|pct|share", name) else "sum"
                measures.append(sql.SQL(agg + "({c}) as {c}").format(c=sql.Identifier(name)))
            if not measures:
                measures.append(sql.SQL("count(*) as row_count"))
            params.update({k: sql.Identifier(v) for k, v in dims.items() if v})
            params.update(
                date=sql.Identifier(date_col),
                start=sql.Literal(start),
                end=sql.Literal(end),
                measures=sql.SQL(", ").join(measures),
            )
        return sql.SQL((QUERIES_DIR / f"{query}.sql").read_text()).format(**params)

    def measure_bi(self) -> None:
        queries = {
            "funnel_month_by_step": FUNNEL_MART,
            "pipeline_velocity_quarter_by_stage_region": VELOCITY_MART,
            "activity_volume_month_by_owner": ACTIVITY_MART,
        }
        results: dict[str, Any] = {}
        for query, mart_name in queries.items():
            model = self.model(mart_name)
            if model is None:
                results[query] = na(f"model {mart_name} missing")
                continue
            try:
                statement = self.bi_statement(query, model)
            except BenchError as exc:
                results[query] = {"status": "error", "reason": str(exc)}
                continue
            latencies = []
            with self.db() as db:
                rows = len(db.execute(statement).fetchall())  # warm-up
                for _ in range(self.bi_runs):
                    started = time.perf_counter()
                    db.execute(statement).fetchall()
                    latencies.append((time.perf_counter() - started) * 1000)
            indexes = [
                str(r[0])
                for r in self.query(
                    "select indexdef from pg_indexes where schemaname = %s and tablename = %s order by indexname",
                    (model.schema, model.alias),
                )
            ]
            results[query] = {
                "status": "ok",
                "model": model.name,
                "p50_ms": round(percentile(latencies, 50), 2),
                "p95_ms": round(percentile(latencies, 95), 2),
                "max_ms": round(max(latencies), 2),
                "executions": len(latencies),
                "rows": rows,
                "table_rows": self.query(sql.SQL("select count(*) from {}").format(model.relation))[0][0],
                "plan_scans": self.bi_plan(statement),
                "indexes": indexes,
            }
            self.check(f"BI query {query} returns rows", rows > 0, f"{rows} rows from {model.name}")
        ok = [r for r in results.values() if r["status"] == "ok"]
        self.measures["bi_queries"] = {
            "status": "ok" if ok else ("error" if any(r["status"] == "error" for r in results.values()) else "n/a"),
            "queries": results,
            "p95_ms_max": max((r["p95_ms"] for r in ok), default=None),
        }
        if not ok:
            self.measures["bi_queries"]["reason"] = "; ".join(r["reason"] for r in results.values())

    # ------------------------------------------------------------------ 7. incremental runs
