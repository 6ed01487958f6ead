"""The Dagster daily job run in a subprocess, as the daemon runs it, and what its event log shows.

A subprocess, because the code location reads the sources switched on from the warehouse's ledger when it
loads (as `funnel ui` does): a test process that imported the definitions earlier holds another warehouse's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

DAGSTER_RUN = """
import json, sys
from dagster import DagsterEventType, DagsterInstance
from orchestration.dagster.definitions import defs

first, last = sys.argv[1], sys.argv[2]
tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
with DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def("dbt_daily_job").execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )
    logs = instance.all_logs(result.run_id)
events = result.all_events
planned = {
    e.dagster_event.event_specific_data.asset_check_key.to_user_string()
    for e in logs if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
}
evaluated = {
    e.event_specific_data.asset_check_key.to_user_string()
    for e in events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
}
observed = [
    str(e.event_specific_data.asset_observation.metadata.get("unique_id").value)
    for e in events if e.event_type == DagsterEventType.ASSET_OBSERVATION
    and "unique_id" in e.event_specific_data.asset_observation.metadata
]
print(json.dumps({
    "success": result.success,
    "materialized": sorted(
        "/".join(e.event_specific_data.materialization.asset_key.path)
        for e in events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION
    ),
    "checks": [
        [e.event_specific_data.check_name, e.event_specific_data.passed, str(e.event_specific_data.severity)]
        for e in events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ],
    "planned_not_evaluated": sorted(planned - evaluated),
    "test_observations": sorted(set(u for u in observed if u.startswith("test."))),
    "skipped_steps": sorted(e.step_key for e in events if e.event_type == DagsterEventType.STEP_SKIPPED),
    "dbt_commands": [
        [e.step_key, e.user_message] for e in logs if e.user_message.startswith("Finished dbt command")
    ],
    "failures": [e.message for e in events if e.event_type == DagsterEventType.STEP_FAILURE],
}))
"""


def dagster_daily(env: dict[str, str], first: str, last: str | None = None) -> dict[str, Any]:
    """Run `dbt_daily_job` over the partitions first..last (one run, as a backfill); the run must succeed with no
    failed ERROR check, no step skipped, and every check it planned evaluated (none "Skipped" in the UI)."""
    result = subprocess.run(
        [sys.executable, "-c", DAGSTER_RUN, first, last or first],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = json.loads(result.stdout.strip().splitlines()[-1])
    assert run["success"], run["failures"]
    errors = [name for name, passed, severity in run["checks"] if not passed and "ERROR" in severity]
    assert not errors, f"checks failed: {errors}"
    assert not run["skipped_steps"], f"steps skipped: {run['skipped_steps']}"
    assert not run["planned_not_evaluated"], f"checks planned but not evaluated: {run['planned_not_evaluated']}"
    assert not run["test_observations"], f"dbt tests outside their checks: {run['test_observations']}"
    # Blocking checks must not split a dbt op into several steps: each dbt step invokes dbt exactly once.
    invocations = Counter(step for step, _ in run["dbt_commands"])
    assert invocations and set(invocations.values()) == {1}, f"dbt invocations per step: {dict(invocations)}"
    return run
