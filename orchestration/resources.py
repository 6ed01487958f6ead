"""Dagster resources: dbt (the project's dbt, profile and connection) and the manifest it is built from.

dbt runs with exactly the environment `funnel build` uses (`orchestration.dbt.dbt_env()`: connection from
`orchestration.settings`, target and schema from FUNNEL_TARGET / FUNNEL_DB_SCHEMA). Each invocation writes its
artifacts to a sub-folder of DBT_TARGET_PATH (default `dbt_project/target`); the code location's manifest lives
in `<DBT_TARGET_PATH>/dagster/`, re-parsed when a dbt file, the target or the schema changes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from packaging.version import Version

from orchestration.dbt import dbt_env, dbt_executable, run_dbt, target_path
from orchestration.errors import FunnelError
from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT
from orchestration.sources import SOURCES
from orchestration.switches import switch_variable

log = logging.getLogger(__name__)

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


def manifest_dir() -> Path:
    """The code location's own manifest, in `<target>/dagster/`: every plain `dbt` or `funnel build` run
    rewrites `<target>/manifest.json` for whatever target and schema it used; this one changes only here."""
    return target_path() / "dagster"


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, target_path=manifest_dir(), profiles_dir=DBT_PROJECT_DIR)


def _newest_input() -> float:
    newest = 0.0
    for root in _PARSE_INPUTS:
        if root.is_file():
            newest = max(newest, root.stat().st_mtime)
        elif root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() and path.suffix in (".sql", ".yml", ".yaml", ".md", ".csv", ".py"):
                    newest = max(newest, path.stat().st_mtime)
    return newest


def _parse_env() -> dict[str, str]:
    """What decides the manifest: relation names (per target and FUNNEL_DB_SCHEMA) and the sources switched on."""
    env = dbt_env()
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


def prepare_manifest(project: DbtProject | None = None) -> Path:
    """Make sure the code location's `manifest.json` exists, was parsed for the current target and schema, and
    is newer than every dbt source file (`dbt parse` otherwise).

    Works under every launcher (dagster dev, dagster-webserver, pytest), unlike `prepare_if_dev()` which only
    acts under `dagster dev`. A parse that fails while another engineer's model is half-written keeps the
    previous manifest (with a warning); without any manifest it is an error.
    """
    project = project or dbt_project()
    manifest = project.manifest_path
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


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """These environment variables set for the duration of the block, then restored."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class FunnelDbtResource(DbtCliResource):
    """`DbtCliResource` that connects to the warehouse `orchestration.settings.connection()` names.

    The connection is resolved when dbt is invoked (not when the code loads), so FUNNEL_DB_NAME and friends
    set by a test or a deployment at run time are honoured.
    """

    @property
    def _cli_version(self) -> Version:
        """The dbt-core installed with this package (dagster-dbt would run `dbt --version`: seconds per op)."""
        from dbt.version import __version__

        return Version(__version__)

    def _initialize_dbt_core_adapter(self, args: Any) -> None:  # type: ignore[override]
        """No in-process dbt adapter: row counts come from orchestration.assets over the project's connection."""
        return None

    def cli(self, args: Any, **kwargs: Any) -> DbtCliInvocation:
        # dbt's default "eager" indirect selection: a test runs in the op that builds any of its parents; the
        # tests of incremental models are excluded from the other op (orchestration.assets), so each runs once.
        env = dbt_env()
        with environment({key: value for key, value in env.items() if os.environ.get(key) != value}):
            return super().cli(args, **kwargs)


def dbt_resource(project: DbtProject | None = None) -> FunnelDbtResource:
    project = project or dbt_project()
    return FunnelDbtResource(
        project_dir=str(project.project_dir), profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    )


def resources() -> dict[str, object]:
    return {"dbt": dbt_resource()}
