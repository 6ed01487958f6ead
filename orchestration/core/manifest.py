"""dbt's artifacts and the business calendar, in one place: where dbt writes (the target path), the parsed
manifest (kept fresh for the Dagster code location, or parsed once for a given target and schema), run results,
relations of manifest nodes, and "today" in the business time zone (FUNNEL_TIMEZONE, as the partitions and the
dbt var business_timezone use it).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES
from orchestration.core.dbt import dbt_env, dbt_vars, run_dbt
from orchestration.core.errors import FunnelError
from orchestration.core.settings import DBT_PROJECT_DIR, REPO_ROOT, Connection
from orchestration.core.switches import switch_variable

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "UTC"
# Everything a parse reads: a newer file than the manifest means the manifest is stale.
_PARSE_INPUTS = (
    DBT_PROJECT_DIR / "dbt_project.yml",
    DBT_PROJECT_DIR / "models",
    DBT_PROJECT_DIR / "tests",
    DBT_PROJECT_DIR / "snapshots",
    DBT_PROJECT_DIR / "analyses",
    DBT_PROJECT_DIR / "docs",
    REPO_ROOT / "macros",
    REPO_ROOT / "seeds",
)


def business_timezone() -> str:
    """FUNNEL_TIMEZONE (IANA, default UTC): the zone dates, partitions and schedules are cut in."""
    tz = os.environ.get("FUNNEL_TIMEZONE", DEFAULT_TIMEZONE).strip() or DEFAULT_TIMEZONE
    dbt_vars(timezone=tz)  # validates with a message that names the value
    return tz


def today(timezone: str | None = None) -> date:
    """The default source_dt: today in the business time zone (as the dbt macro source_dt() decides)."""
    return datetime.now(ZoneInfo(timezone or business_timezone())).date()


def yesterday(now: datetime | None = None, timezone: str | None = None) -> date:
    """The last complete business day."""
    tz = ZoneInfo(timezone or business_timezone())
    current = now.astimezone(tz) if now else datetime.now(tz)
    return current.date() - timedelta(days=1)


def target_path() -> Path:
    """dbt's artifacts folder: DBT_TARGET_PATH (absolute, or relative to the dbt project), else `target`."""
    return DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target")


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The manifest.json dbt last wrote into this folder (default: the target path)."""
    return json.loads(((folder or target_path()) / "manifest.json").read_text())


def run_results(folder: Path | None = None) -> list[dict[str, object]]:
    """Results of the last dbt invocation (status, rows affected, timing per node)."""
    path = (folder or target_path()) / "run_results.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())["results"]


def manifest_dir() -> Path:
    """The code location's own manifest, in `<target>/dagster/`: every plain `dbt` or `funnel build` run
    rewrites `<target>/manifest.json` for whatever target and schema it used; this one changes only here."""
    return target_path() / "dagster"


def parse_inputs() -> Iterator[Path]:
    """Every file a dbt parse reads."""
    for root in _PARSE_INPUTS:
        if root.is_file():
            yield root
        elif root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix in (".sql", ".yml", ".yaml", ".md", ".csv", ".py"):
                    yield path


def _newest_input() -> float:
    return max((path.stat().st_mtime for path in parse_inputs()), default=0.0)


def _parse_env(conn: Connection | None = None, target: str | None = None) -> dict[str, str]:
    """What decides the manifest: relation names (per target and FUNNEL_DB_SCHEMA) and the sources switched on."""
    env = dbt_env(conn, target)
    keys = ["FUNNEL_TARGET", "FUNNEL_DB_SCHEMA", *(switch_variable(source) for source in SOURCES)]
    return {key: env.get(key, "") for key in keys}


def manifest_is_stale(manifest: Path) -> bool:
    stamp = manifest.parent / "funnel_parse_env.json"
    if not manifest.exists() or not stamp.exists() or json.loads(stamp.read_text()) != _parse_env():
        return True
    return manifest.stat().st_mtime < _newest_input()


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """A file lock, so the webserver, the daemon and run workers loading the code at once parse only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_manifest(folder: Path | None = None) -> Path:
    """The code location's `manifest.json`, parsed for the current target, schema and switches and newer than
    every dbt source file (`dbt parse` only when it is not: the parse is cached across loads and processes).

    A parse that fails while a model is half-written keeps the previous manifest (with a warning); without any
    manifest it is an error.
    """
    manifest = (folder or manifest_dir()) / "manifest.json"
    if not manifest_is_stale(manifest):
        return manifest
    with _lock(manifest.parent / ".funnel-parse.lock"):
        if not manifest_is_stale(manifest):
            return manifest
        result = run_dbt(["parse", "--quiet", "--target-path", str(manifest.parent)], capture=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            if manifest.exists():
                log.warning("dbt parse failed; keeping the previous manifest %s:\n%s", manifest, output[-2000:])
                return manifest
            raise FunnelError(f"dbt parse failed, no manifest at {manifest}:\n{output[-2000:]}", "fix the dbt project")
        manifest.touch()
        (manifest.parent / "funnel_parse_env.json").write_text(json.dumps(_parse_env()))
    return manifest


def dbt_manifest(
    args: list[str], variables: dict[str, object], conn: Connection, target: str | None, schema: str | None
) -> dict[str, Any]:
    """Run a dbt command writing into a temporary target path; return its manifest (fail with dbt's output)."""
    with tempfile.TemporaryDirectory(prefix="funnel-dbt-") as tmp:
        result = run_dbt(
            [*args, "--target-path", tmp, "--log-path", tmp],
            variables,
            conn=conn,
            target=target,
            schema=schema,
            capture=True,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise FunnelError(f"dbt {args[0]} failed:\n{tail}", "see the dbt output above")
        return read_manifest(Path(tmp))


def project_manifest(variables: dict[str, object], conn: Connection, target: str | None = None) -> dict[str, Any]:
    """The parsed project, for relation names and configs: the code location's cached manifest when it was
    parsed for the same target, schema and switches (no parse, usually), else a parse of its own."""
    if _parse_env(conn, target) == _parse_env():
        return read_manifest(prepare_manifest().parent)
    return dbt_manifest(["parse"], variables, conn, target, None)


def model_nodes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Enabled models by name."""
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("enabled", True)
    }


def relation_of(node: dict[str, Any]) -> sql.Composable:
    return sql.Identifier(node["schema"], node.get("alias") or node["name"])


def relation_exists(db: psycopg.Connection, node: dict[str, Any] | None) -> bool:
    if node is None:
        return False
    name = f'"{node["schema"]}"."{node.get("alias") or node["name"]}"'
    return bool(warehouse.scalar(db, "select to_regclass(%s) is not null", (name,)))


def model_window(node: dict[str, Any]) -> tuple[str | None, str | None]:
    """The date column and grain (day|month) of the window a model declares in `config.meta.window`.

    Read from the manifest, the same config the delete_window hook reads at run time, so the audit checks
    exactly the window a run replaces; (None, None) for a model that declares none.
    """
    window = (node["config"].get("meta") or {}).get("window") or {}
    column = window.get("column")
    if not column:
        return None, None
    return str(column), str(window.get("grain") or "day")


def is_keyed(node: Mapping[str, Any]) -> bool:
    """A model of the keyed incremental contract (config meta.keyed, macros/incremental_keys.sql): rebuilt per key
    from what landed and the days the as-of date moved over; after any run it equals a full refresh, whole."""
    return bool((node["config"].get("meta") or {}).get("keyed"))


def is_windowed(node: Mapping[str, Any]) -> bool:
    """An incremental model of the window contract (config meta.window): one that the daily partitions drive.
    Models incremental by load or key (staging, timelines) are not: they take what landed whatever the day."""
    config = node["config"]
    return config.get("materialized") == "incremental" and bool((config.get("meta") or {}).get("window"))
