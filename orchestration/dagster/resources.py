"""Dagster resources: dbt (the project's dbt, profile and connection).

dbt runs with exactly the environment `funnel build` uses (`orchestration.core.dbt.dbt_env()`: connection from
`orchestration.core.settings`, target and schema from FUNNEL_TARGET / FUNNEL_DB_SCHEMA). Each invocation writes its
artifacts to a sub-folder of DBT_TARGET_PATH (default `dbt_project/target`); the code location's manifest lives
in `<DBT_TARGET_PATH>/dagster/` (orchestration.core.manifest), re-parsed when a dbt file, the target, the schema
or a source switch changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject

from orchestration.core.dbt import dbt_env, dbt_executable
from orchestration.core.manifest import manifest_dir
from orchestration.core.settings import DBT_PROJECT_DIR


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, target_path=manifest_dir(), profiles_dir=DBT_PROJECT_DIR)


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
    """`DbtCliResource` that connects to the warehouse `orchestration.core.settings.connection()` names.

    The connection is resolved when dbt is invoked (not when the code loads), so FUNNEL_DB_NAME and friends
    set by a test or a deployment at run time are honoured.
    """

    def cli(self, args: Any, **kwargs: Any) -> DbtCliInvocation:
        # dbt's default "eager" indirect selection: a test runs in the op that builds any of its parents; the
        # tests of incremental models are excluded from the other op (assets.py), so each runs once.
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
