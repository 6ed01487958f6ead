"""After `funnel up` (what `make run` runs) the Dagster UI shows the warehouse as it is, from the first visit:
every asset the build made is materialized, every daily partition up to the build's date is, and every check
on them has a result (dbt tests and the GX checkpoints) and a description. Asked through the webserver's GraphQL
API, then looked at in headless Chromium (Debian's /usr/bin/chromium driven by Playwright, no browser
download): the asset pages, the partitions tab and the checks tab, with a screenshot of each.

Marked `ui`: `make test-ui` installs Chromium and runs it (and `.ci/run` calls it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_warehouse
from single_source import funnel, ok, user_env

from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES, source_tables
from orchestration.core.settings import Connection
from orchestration.dagster.translator import FunnelTranslator

pytestmark = pytest.mark.ui

CHROMIUM = Path("/usr/bin/chromium")
YESTERDAY = date.today() - timedelta(days=1)  # the last daily partition
FIRST_PARTITION = YESTERDAY - timedelta(days=20)  # a short history keeps the record to ~20 events per model
MARTS = [
    "marts/funnel/rep_sales_funnel_monthly",
    "marts/funnel/pipeline_velocity_daily",
    "marts/field_service/fct_jobs",
]
NODES = """{ assetNodes { assetKey { path } isPartitioned
  assetMaterializations(limit: 1) { timestamp }
  partitionStats { numMaterialized numPartitions }
  assetChecksOrError { ... on AssetChecks { checks { name description
    executionForLatestMaterialization { status } } } } } }"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return dict(payload["data"])


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(2)


@pytest.fixture(scope="module")
def made(server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`funnel up` on an empty warehouse, its record in a Dagster instance of its own, `funnel ui` on it."""
    for wh in make_warehouse(server, "ui_state"):
        yield from _up_and_ui(wh, tmp_path_factory.mktemp("ui_state"))


def _up_and_ui(wh: Any, tmp: Path) -> Iterator[dict[str, Any]]:
    store = wh.conn.with_database(f"{wh.conn.dbname}_dagster")
    env = {
        **user_env(wh, tmp),
        "FUNNEL_DAGSTER_REPORT": "on",
        "FUNNEL_DAGSTER_HOME": str(tmp / "dagster"),
        "FUNNEL_DAGSTER_DB": store.dbname,
        "FUNNEL_PARTITIONS_START": FIRST_PARTITION.isoformat(),
    }
    up = ok(funnel(env, "up", "--source-dt", YESTERDAY.isoformat()))
    assert "dagster: recording this build" in up, up
    log = tmp / "dagster" / "cli_builds.log"
    _wait_for(lambda: "dagster: recorded" in (log.read_text() if log.exists() else ""), 300, "the record")
    port = _free_port()
    ui_log = (tmp / "ui.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "ui", "--port", str(port)],
        env=env,
        stdout=ui_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def up_and_serving() -> bool:
        assert process.poll() is None, (tmp / "ui.log").read_text()[-3000:]
        try:
            return bool(_graphql(port, "{ version }"))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    try:
        _wait_for(up_and_serving, 240, "the Dagster UI")
        manifest = json.loads((tmp / "target" / "manifest.json").read_text())
        results = json.loads((tmp / "target" / "run_results.json").read_text())["results"]
        yield {"port": port, "tmp": tmp, "manifest": manifest, "results": results, "up": up}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        ui_log.close()
        warehouse.drop_database(store)


def _built_keys(made: dict[str, Any]) -> set[str]:
    """The assets the build made: every model and seed dbt built, and the raw tables it loaded."""
    translator = FunnelTranslator(code_references=False)
    nodes = made["manifest"]["nodes"]
    keys = {
        translator.get_asset_key(nodes[r["unique_id"]]).to_user_string()
        for r in made["results"]
        if r["unique_id"] in nodes
        and nodes[r["unique_id"]]["resource_type"] in ("model", "seed")
        and r["status"] == "success"
    }
    return keys | {f"raw/{source}/{table.name}" for source in SOURCES for table in source_tables(source)}


def test_graphql_shows_the_build_materialized_with_every_check_evaluated(made) -> None:
    passed = re.search(r"GX: (\d+) of (\d+) checkpoints passed", made["up"])
    assert passed and passed.group(1) == passed.group(2), made["up"]
    nodes = {"/".join(n["assetKey"]["path"]): n for n in _graphql(made["port"], NODES)["assetNodes"]}
    built = _built_keys(made)
    assert built <= set(nodes), sorted(built - set(nodes))
    never = sorted(key for key in built if not nodes[key]["assetMaterializations"])
    assert never == [], f"built but 'Never materialized': {never}"
    days = (YESTERDAY - FIRST_PARTITION).days + 1
    partial = {
        key: nodes[key]["partitionStats"]
        for key in built
        if nodes[key]["isPartitioned"] and nodes[key]["partitionStats"]["numMaterialized"] != days
    }
    assert partial == {}, f"partitions missing (expected {days} of {days}): {partial}"
    checks = [(key, c) for key in built for c in nodes[key]["assetChecksOrError"].get("checks", [])]
    assert len(checks) > 200  # every dbt test of both sources (212) and the GX checkpoints
    unevaluated = [f"{key}:{c['name']}" for key, c in checks if not c["executionForLatestMaterialization"]]
    assert unevaluated == [], f"checks 'Not evaluated' after the build: {unevaluated}"
    assert [f"{key}:{c['name']}" for key, c in checks if not c["description"]] == []
    gx = [c for key, c in checks if c["name"].startswith("gx_")]
    assert len(gx) == int(passed.group(2))
    assert {c["executionForLatestMaterialization"]["status"] for c in gx} == {"SUCCEEDED"}


def test_chromium_finds_the_build_on_the_asset_partitions_and_checks_pages(made) -> None:
    assert CHROMIUM.exists(), "needs Debian's chromium: run `make test-ui`, which installs it"
    from playwright.sync_api import sync_playwright

    shots = made["tmp"] / "screenshots"
    shots.mkdir()
    days = (YESTERDAY - FIRST_PARTITION).days + 1
    partitioned = {
        "/".join(n["assetKey"]["path"]) for n in _graphql(made["port"], NODES)["assetNodes"] if n["isPartitioned"]
    }
    assert "marts/funnel/rep_sales_funnel_monthly" in partitioned
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*flags, "--no-first-run"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        def visit(path: str, name: str, ready: str | re.Pattern[str]) -> str:
            page.goto(f"http://127.0.0.1:{made['port']}{path}", timeout=90_000)
            page.get_by_text(ready).first.wait_for(timeout=90_000)
            page.wait_for_load_state("networkidle", timeout=90_000)
            skip = page.get_by_role("button", name="Skip")  # the first visit's "Join the community" dialog
            if skip.count():
                skip.first.click()
            page.screenshot(path=str(shots / f"{name}.png"))
            return page.inner_text("body")

        for mart in MARTS:
            name = mart.replace("/", "__")
            overview = visit(f"/assets/{mart}", name, "Latest materialization")
            assert "Never materialized" not in overview, mart
            checks = visit(f"/assets/{mart}?view=checks", f"{name}__checks", "Checks (")
            assert "Succeeded" in checks and "Not Evaluated" not in checks and "No description" not in checks, mart
            if mart in partitioned:
                partitions = visit(f"/assets/{mart}?view=partitions", f"{name}__partitions", "Partitions Selected")
                assert f"Materialized ({days})" in partitions and "Missing (0)" in partitions, mart
        # the graph draws its nodes before their live data ("Loading..."): wait for the check summaries
        summary = r"(\d+) / (\d+) Passed"
        graph = visit('/asset-groups~group%3A"marts_funnel"', "marts_funnel_lineage", re.compile(summary))
        page.wait_for_function(
            f"(document.body.innerText.match(new RegExp({json.dumps(summary)}, 'g')) || []).length >= 5",
            timeout=90_000,
        )
        graph = page.inner_text("body")
        page.screenshot(path=str(shots / "marts_funnel_lineage.png"))
        assert "Never materialized" not in graph
        summaries = [(int(a), int(b)) for a, b in re.findall(summary, graph)]
        assert len(summaries) >= 5 and all(passed > 0 for passed, _ in summaries), summaries
        assert "100% filled" in graph  # the partitioned marts of the group
        browser.close()
    assert len(list(shots.glob("*.png"))) == 2 * len(MARTS) + len(partitioned & set(MARTS)) + 1
