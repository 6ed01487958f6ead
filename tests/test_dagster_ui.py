"""`funnel ui` (orchestration.cli.ui.serve_ui): Dagster's webserver and daemon on 127.0.0.1, instance in Postgres;
its GraphQL endpoint lists the asset graph, and a backfill of a date range launched through it is ONE run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration.cli.ui import stop_group

pytestmark = pytest.mark.ui  # make test-ui: the webserver and daemon of `funnel ui`

STARTUP_TIMEOUT = 240
MART = ["marts", "funnel", "rep_sales_funnel_monthly"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.fixture(scope="module")
def ui(wh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """serve_ui in its own process group (webserver, daemon and code server are its children)."""
    port, home = _free_port(), tmp_path_factory.mktemp("dagster_home")
    log = home / "ui.log"
    code = (
        "import sys; from pathlib import Path; from orchestration.cli.ui import serve_ui; "
        f"sys.exit(serve_ui('127.0.0.1', {port}, home=Path({str(home)!r}), database={wh.conn.dbname!r}))"
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                _graphql(port, "{ version }")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Dagster UI did not come up on port {port}:\n{log.read_text()[-3000:]}")
                time.sleep(2)
        yield port, process, home
    finally:
        stop_group(process, grace=5.0)
        process.wait(timeout=10)


def test_graphql_lists_the_asset_graph_and_the_instance_is_in_postgres(ui, wh) -> None:
    port, _, home = ui
    data = _graphql(port, "{ assetNodes { assetKey { path } groupName isPartitioned } }")
    nodes = {tuple(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert ("raw", "pipedrive", "deal_changes") in nodes
    assert nodes[tuple(MART)]["isPartitioned"] is True
    assert nodes[tuple(MART)]["groupName"] == "marts_funnel"
    assert any(path[0] == "staging" for path in nodes)
    assert (home / "dagster.yaml").read_text() == (Path(__file__).parents[1] / "dagster.yaml").read_text()
    tables = {row[0] for row in wh.query("select tablename from pg_tables where schemaname = 'public'")}
    assert {"runs", "event_logs"} <= tables
    data = _graphql(
        port,
        """{ repositoriesOrError { ... on RepositoryConnection { nodes {
             jobs { name } schedules { name } sensors { name } } } } }""",
    )
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert {"dbt_daily_job", "dbt_full_refresh_job"} <= {j["name"] for j in repo["jobs"]}
    assert {"dbt_daily_schedule", "dbt_weekly_replay_schedule", "mart_export_schedule"} <= {
        s["name"] for s in repo["schedules"]
    }


def test_a_backfill_of_ten_days_launched_through_graphql_is_one_run(ui) -> None:
    port, _, _ = ui
    days = [f"2024-11-{d:02d}" for d in range(1, 11)]
    launched = _graphql(
        port,
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"params": {"assetSelection": [{"path": MART}], "partitionNames": days, "title": "test backfill"}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    query = """query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
                 ... on Runs { results { runId tags { key value } } } } }"""
    deadline, runs = time.monotonic() + 150, []
    while time.monotonic() < deadline:
        runs = _graphql(port, query, {"id": launched["backfillId"]})["runsOrError"]["results"]
        if runs:
            break
        time.sleep(3)
    assert len(runs) == 1, runs
    time.sleep(5)  # a second run would be created in the same daemon iteration
    runs = _graphql(port, query, {"id": launched["backfillId"]})["runsOrError"]["results"]
    assert len(runs) == 1
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        days[0],
        days[-1],
    )
    # the run itself is not under test: stop it rather than let it build ten days for nothing
    _graphql(
        port,
        "mutation($id: String!) { terminateRun(runId: $id) { __typename } }",
        {"id": runs[0]["runId"]},
    )


def _processes_of(home: Path) -> list[int]:
    """Pids of the processes started for this Dagster home (found by DAGSTER_HOME in their environment)."""
    marker = f"DAGSTER_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_sigterm_to_funnel_ui_stops_the_webserver_and_daemon(ui) -> None:
    """Last in the module: a service manager's SIGTERM to `funnel ui` alone stops everything it started."""
    _, process, home = ui
    started = _processes_of(home)
    assert len(started) >= 2, started  # dagster dev, webserver, daemon, code server
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)  # dagster dev stops on the SIGINT of the first phase (seconds; slower under load)
    deadline = time.monotonic() + 30
    while _processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_of(home) == []
