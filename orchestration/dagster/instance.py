"""The Dagster instance: it lives in `$FUNNEL_HOME/dagster` (DAGSTER_HOME); `dagster.yaml` is copied there from
the repo's template, and its runs, events and schedules are stored in the `dagster` database of the project's
PostgreSQL (dagster-postgres; created if missing, FUNNEL_DAGSTER_DB overrides the name)."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES
from orchestration.core.settings import REPO_ROOT, funnel_home

DAGSTER_DATABASE = "dagster"


def dagster_home() -> Path:
    """DAGSTER_HOME of `funnel ui`: FUNNEL_DAGSTER_HOME, default `$FUNNEL_HOME/dagster`."""
    configured = os.environ.get("FUNNEL_DAGSTER_HOME", "").strip()
    return Path(configured) if configured else funnel_home() / "dagster"


def prepare_dagster_home(home: Path | None = None, database: str | None = None) -> dict[str, str]:
    """Create DAGSTER_HOME (dagster.yaml from the template) and its database; return the environment to run in."""
    home = home or dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    template = (REPO_ROOT / "dagster.yaml").read_text()
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != template:
        target.write_text(template)
    conn = warehouse.start()
    store = conn.with_database(database or os.environ.get("FUNNEL_DAGSTER_DB", DAGSTER_DATABASE))
    warehouse.ensure_database(store)
    for source in SOURCES:
        (funnel_home() / "landing" / source).mkdir(parents=True, exist_ok=True)
    # dagster-postgres is written for psycopg2; SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL,
    # on which dagster's `NOTIFY run_events, :id` fails. Name the driver.
    url = store.url().replace("postgresql://", "postgresql+psycopg2://", 1)
    # `dagster dev` warns on every start that `dg dev` supersedes it; dg needs a dg project layout this
    # package does not have, and the warning only confuses a user who ran `funnel ui`.
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), "ignore:Function `dev_command`"]))
    return {**os.environ, "DAGSTER_HOME": str(home), "FUNNEL_DAGSTER_PG_URL": url, "PYTHONWARNINGS": warnings}
