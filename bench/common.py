"""Shared by the benchmark modules: sizes, constants, small helpers, machine facts, timed child runs."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestration.core import warehouse
from orchestration.core.errors import FunnelError
from orchestration.core.settings import REPO_ROOT, Connection

BENCH_DIR = REPO_ROOT / "bench"
QUERIES_DIR = BENCH_DIR / "queries"
LOWER_BOUND_SQL = BENCH_DIR / "lower_bound.sql"


@dataclass(frozen=True)
class Size:
    name: str
    deals: int
    repeat: int  # default --repeat

    @property
    def leads(self) -> int:
        return int(self.deals * LEADS_PER_DEAL)


# XS is for the harness's own test; L is the 1M deals (one run per measure by default).
SIZES = {
    "XS": Size("XS", 300, 1),
    "S": Size("S", 10_000, 3),
    "M": Size("M", 200_000, 3),
    "L": Size("L", 1_000_000, 1),
}
LEADS_PER_DEAL = 2.5  # field_crm scaled like pipedrive
HISTORY_DAYS = 540  # ~1.5 years
END = date(2025, 6, 30)  # last generated day = source_dt of the benchmarked runs (fixed: results compare)
SEED = 42
MEMORY_PROBE_SHARE = 10  # generator and loader memory is also measured at 1/10 of the size: flat = equal
BACKFILL_DAYS = 30
BI_RUNS = 30
DBT_SCHEMA = "bench"  # dev target: bench_staging, bench_marts, ...
REF_SCHEMA = "bench_reference"
FLOOR_SCHEMA = "bench_copy_floor"
LOWER_BOUND_SCHEMA = "bench_lower_bound"
BUSINESS_TIMEZONE = "UTC"  # the dbt var's default; the benchmark does not set it
FUNNEL_MART = "rep_sales_funnel_monthly"
VELOCITY_MART = "pipeline_velocity_daily"
ACTIVITY_MART = "activity_volume_daily"
# Columns that legitimately differ between two builds of the same data (run stamps, and the time a file landed:
# the daily measure lands the last day again for each repeat), left out of comparisons.
VOLATILE_COLUMN = re.compile(r"^_?dbt_|_built_at$|^_?run_at$|^_?batch_at$|loaded_at$|invocation", re.IGNORECASE)
FLOAT_TYPES = {"double precision", "real"}
NUMERIC_TYPES = {"smallint", "integer", "bigint", "numeric", "double precision", "real"}

# A measured child: the real `funnel` CLI, timed from after its imports; the parent reads its peak RSS.
_CHILD = (
    "import json, sys, time\n"
    "from orchestration.cli.main import app\n"
    "started = time.perf_counter()\n"
    "app(sys.argv[2:], prog_name='funnel', standalone_mode=False)\n"
    "open(sys.argv[1], 'w').write(json.dumps({'seconds': time.perf_counter() - started}))\n"
)


class BenchError(FunnelError):
    """A step of the benchmark could not run (not a failed correctness check: those are reported)."""


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 30 runs = the 29th fastest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def table_rows(rows_per_file: dict[str, int], source: str, table: str) -> int:
    """Rows of a table over its files: `<source>/<table>.csv` and later drops `<source>/<table>__<day>.csv`."""
    return sum(
        n for f, n in rows_per_file.items() if f == f"{source}/{table}.csv" or f.startswith(f"{source}/{table}__")
    )


def na(reason: str) -> dict[str, Any]:
    return {"status": "n/a", "reason": f"n/a ({reason})"}


# ---------------------------------------------------------------------------------------------- machine


def machine_info(conn: Connection) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        ram_gb = round(int(match.group(1)) / 1024 / 1024, 1) if match else None
    with psycopg.connect(conn.url(), autocommit=True) as db:
        server = warehouse.scalar(db, "show server_version")
        settings: dict[str, str] = dict(
            db.execute(
                "select name, setting || coalesce(unit, '') from pg_settings where name = any(%s)",
                (["shared_buffers", "work_mem", "max_parallel_workers_per_gather", "synchronous_commit", "jit"],),
            ).fetchall()
        )

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "nproc": os.cpu_count(),
        "ram_gb": ram_gb,
        "cpu_model": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": server,
        "postgres_settings": settings,
        "dbt_core": version("dbt-core"),
        "dbt_postgres": version("dbt-postgres"),
        "dagster": version("dagster"),
        "psycopg": version("psycopg"),
        "embedded_server": conn.embedded,
        "load_average_at_start": list(os.getloadavg()),
    }


def git_describe() -> str | None:
    """The commit the benchmarked code comes from, `-dirty` when the tree has changes. Read-only: no
    optional locks, so git does not even refresh its index."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")  # new result files are not code
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


# ---------------------------------------------------------------------------------------------- children


@dataclass
class ChildRun:
    wall_s: float  # the whole process, interpreter start included
    inner_s: float  # the command itself, after imports
    peak_rss_mb: float


def run_child(args: list[str], env: dict[str, str], log_path: Path) -> ChildRun:
    """Run `funnel <args>` in a child process; its own time, its wall time and its peak RSS (wait4)."""
    result_path = log_path.with_suffix(".json")
    result_path.unlink(missing_ok=True)
    with log_path.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(result_path), *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text(errors="replace")[-1500:]
        raise BenchError(f"`funnel {' '.join(args)}` failed (exit {proc.returncode}):\n{tail}", f"see {log_path}")
    inner = json.loads(result_path.read_text())["seconds"]
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    rss_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    return ChildRun(wall, inner, round(rss_kib / 1024, 1))


# ---------------------------------------------------------------------------------------------- dbt runs


@dataclass
class DbtRun:
    label: str
    ok: bool
    wall_s: float
    elapsed_s: float | None  # dbt's own elapsed_time (execution, after parse)
    nodes: list[dict[str, Any]]
    partial_parse: bool  # False when dbt said it re-parsed the whole project
    log_path: Path

    def status_counts(self, resource: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            if resource and not node["unique_id"].startswith(resource + "."):
                continue
            counts[node["status"]] = counts.get(node["status"], 0) + 1
        return counts

    def failures(self) -> list[str]:
        bad = {"error", "fail", "runtime error", "skipped"}
        return [f"{n['unique_id']}: {n['status']}" for n in self.nodes if n["status"] in bad]

    def problem(self, most: int = 8) -> str:
        """What went wrong: the failed nodes, else dbt's own error message."""
        failed = self.failures()
        if failed:
            return "; ".join(failed[:most])
        text = self.log_path.read_text(errors="replace")
        start = text.rfind("Encountered an error")
        message = text[start:] if start >= 0 else text[-600:]
        return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", message).split())[:600]

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@dataclass
class Model:
    unique_id: str
    name: str
    schema: str
    alias: str
    materialized: str

    @property
    def relation(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.alias)

    @property
    def persisted(self) -> bool:
        return self.materialized in ("table", "incremental")
