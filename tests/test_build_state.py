"""A build with nothing new does nothing; whatever changed its inputs makes it build (orchestration.core.build_state).

Real `funnel build` subprocesses against a database of this module, on a small generated Pipedrive export.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import UNIT_TESTS_OFF
from dbt_helpers import planted
from test_cli import FUNNEL, funnel

from orchestration.core.build_state import node_digests, rebuild_needed
from orchestration.core.manifest import read_manifest, run_results
from orchestration.core.settings import funnel_home
from orchestration.ingest.generators.pipedrive import generate_pipedrive

DAY = "2024-11-30"
BUILT = "dbt: "  # the first line of a build's summary: dbt ran
# The ledger's rules are the same for any selection: tests that build many times build this part of the project.
PART = ("--select", "+int_deal_stats_daily")
UNIT_TESTS_SKIPPED = "unit tests: passed on this code already"
EVERY_ROW = "data tests check every row"


@pytest.fixture(scope="module", autouse=True)
def with_unit_tests() -> Iterator[None]:
    """The builds of this module run the unit tests (tests/conftest.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(UNIT_TESTS_OFF, raising=False)
        yield


@pytest.fixture(scope="module")
def landed(wh, tmp_path_factory) -> Path:
    export = tmp_path_factory.mktemp("export")
    generate_pipedrive(export, deals=200, seed=5, end=date(2024, 11, 30), days=120)
    wh.load(export, "pipedrive")
    return export


def _build(*args: str) -> str:
    result = funnel("build", "--source-dt", DAY, *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_a_second_identical_build_does_nothing(landed, wh) -> None:
    assert BUILT in _build()
    recorded = wh.scalar("select finished_at from raw.build_ledger")
    again = _build()
    assert "nothing to do" in again and BUILT not in again
    assert wh.scalar("select finished_at from raw.build_ledger") == recorded


def test_force_builds_anyway(landed) -> None:
    _build(*PART)
    assert "nothing to do" in _build(*PART)
    assert BUILT in _build(*PART, "--force")
    assert "nothing to do" in _build(*PART)


def test_another_day_or_other_vars_build(landed) -> None:
    other_day = funnel("build", "--source-dt", "2024-11-29", *PART)
    assert other_day.returncode == 0 and BUILT in other_day.stdout, other_day.stderr[-2000:]
    # the day built last is another one now: the first day's build no longer stands for the tables
    assert BUILT in _build(*PART)
    assert BUILT in _build(*PART, "--backfill-period", "5")
    assert "nothing to do" in _build(*PART, "--backfill-period", "5")


def test_unit_tests_run_again_only_when_the_code_changed_or_all_tests_are_asked_for(landed, wh) -> None:
    """Unit tests read fixtures, not the warehouse: once they passed on these files, another day skips them. A
    changed file (a seed, a model) is nothing a load records: that build's data tests check every row too."""
    _build(*PART, "--backfill-period", "7")  # its unit tests pass (here or in a build of an earlier test)
    skipped = _build(*PART, "--backfill-period", "6")
    assert UNIT_TESTS_SKIPPED in skipped and _unit_tests_run() == 0
    assert EVERY_ROW not in skipped and _test_scope() == "window"
    # as if they had passed on other files: a file changed since
    wh.query("update raw.build_ledger set files_digest = 'other files' where starts_with(step, 'unit tests of ')")
    again = _build(*PART, "--backfill-period", "5")
    assert UNIT_TESTS_SKIPPED not in again and _unit_tests_run() > 0
    assert EVERY_ROW in again and _test_scope() == "all"
    assert UNIT_TESTS_SKIPPED in _build(*PART, "--backfill-period", "4") and _unit_tests_run() == 0
    everything = _build(*PART, "--backfill-period", "4", "--all-tests")
    assert UNIT_TESTS_SKIPPED not in everything and _unit_tests_run() > 0


def _unit_tests_run() -> int:
    return sum(1 for result in run_results() if str(result["unique_id"]).startswith("unit_test."))


def _test_scope() -> str:
    """What the last build's tests of a windowed model checked: the run's window or all rows (its compiled SQL)."""
    test = "unique_combination_int_deal_stats_daily"
    compiled = next(str(r["compiled_code"]) for r in run_results() if test in str(r["unique_id"]))
    return "window" if " >= cast('" in compiled else "all"


def test_a_new_load_or_a_replaced_file_builds(landed, wh, tmp_path) -> None:
    _build(*PART)
    drop = tmp_path / "drop"
    drop.mkdir()
    # a drop file of the same table: a new load, even of rows already seen (they become duplicates)
    lines = (landed / "activity.csv").read_text().splitlines()
    (drop / "activity__extra.csv").write_text("\n".join(lines[:4]) + "\n")
    wh.load(drop, "pipedrive")
    assert BUILT in _build(*PART)
    assert "nothing to do" in _build(*PART)
    (drop / "activity__extra.csv").write_text("\n".join(lines[:3]) + "\n")
    wh.load(drop, "pipedrive", replace=True)
    assert BUILT in _build(*PART)


def test_code_changes_name_the_incremental_models_to_rebuild(landed) -> None:
    """rebuild_needed on the real manifest: a macro of the window contract changed is every windowed model; a
    change in one model is that model and the incremental models it feeds; nothing changed is nothing."""
    manifest = read_manifest()
    before = node_digests(manifest)
    assert rebuild_needed(manifest, before) == []
    incremental = {n["name"] for n in manifest["nodes"].values() if n["config"].get("materialized") == "incremental"}
    changed = copy.deepcopy(manifest)
    changed["macros"]["macro.funnel.window_filter"]["macro_sql"] += "\n{# changed #}"
    assert set(rebuild_needed(changed, before)) == {
        n["name"]
        for n in manifest["nodes"].values()
        if n["config"].get("materialized") == "incremental" and (n["config"].get("meta") or {}).get("window")
    }
    changed = copy.deepcopy(manifest)
    node = next(n for n in changed["nodes"].values() if n["name"] == "int_activity_stats_daily")
    node["checksum"]["checksum"] = "changed"
    stale = rebuild_needed(changed, before)
    assert "int_activity_stats_daily" in stale and "rep_sales_funnel_monthly" in stale
    assert set(stale) < incremental and "int_deal_stats_daily" not in stale


def test_an_edited_model_is_rebuilt_with_full_refresh(landed, tmp_path) -> None:
    """The CLI path: a model file edited since the last build makes `funnel build` rebuild it and what it feeds
    with --full-refresh, in a second dbt invocation after the rest. Run from a copy of the repo (python -m
    imports the copy's package, whose REPO_ROOT is the copy), so that no other test parses the edited file."""
    root = Path(__file__).resolve().parents[1]
    copy_root = tmp_path / "repo"
    skip = shutil.ignore_patterns("target", "logs", "__pycache__", ".user.yml")
    for part in ("dbt_project", "macros", "seeds", "orchestration", "expectations"):
        shutil.copytree(root / part, copy_root / part, ignore=skip)
    env = {
        **os.environ,
        "FUNNEL_HOME": str(funnel_home()),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }

    def build() -> str:
        result = subprocess.run(
            [*FUNNEL, "build", "--source-dt", DAY], cwd=copy_root, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    build()
    model = copy_root / "dbt_project" / "models" / "intermediate" / "funnel" / "int_activity_stats_daily.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    output = build()
    assert "code changed since the last build: int_activity_stats_daily" in output
    assert output.count(BUILT) == 2
    assert "nothing to do" in build()


def test_tests_of_windowed_models_check_the_window_unless_all_tests(landed, wh) -> None:
    """A duplicate planted on an old day is outside the window of a daily run: its tests pass; with test_scope
    all (the weekly replay, `funnel build --all-tests`) they fail; planted inside the window,
    the daily tests fail too."""
    _build(*PART)
    table = "dev_intermediate.int_deal_stats_daily"
    first, last = wh.query(f"select min(date_day), max(date_day) from {table}")[0]
    assert last == date.fromisoformat(DAY) and (last - first).days > 30
    test = ["test", "--select", "int_deal_stats_daily,test_name:unique_combination"]
    with planted(wh, table, "date_day") as plant:
        plant(first)
        assert "ERROR=0" in wh.dbt(*test, variables={"source_dt": DAY})
        output = wh.dbt(*test, variables={"source_dt": DAY, "test_scope": "all"}, expect_ok=False)
        assert "ERROR=1" in output, output[-3000:]
        plant(last)
        assert "ERROR=1" in wh.dbt(*test, variables={"source_dt": DAY}, expect_ok=False)


DAILY, EVERY = {"source_dt": DAY}, {"source_dt": DAY, "test_scope": "all"}


def _land_one_line_again(landed: Path, wh, tmp_path: Path, export_file: str, table: str, column: str) -> tuple:
    """A build, a new load of the export file's first data line, a build: the one key of `table` its run rewrote,
    and another `column` value of the table."""
    _build()
    drop = tmp_path / "drop"
    drop.mkdir()
    lines = (landed / f"{export_file}.csv").read_text().splitlines()
    (drop / f"{export_file}__again.csv").write_text("\n".join(lines[:2]) + "\n")
    wh.load(drop, "pipedrive")
    _build()
    rewritten = wh.scalar(
        "select affected_keys from dev_intermediate.funnel_keyed_rewritten where relation_name = %s", (table,)
    )
    assert len(rewritten) == 1, rewritten
    key = int(rewritten[0])
    return key, wh.scalar(f"select min({column}) from {table} where {column} <> %s", (key,))


def _assert_tests_check(wh, test: list[str], table: str, column: str, checked: object, unchecked: object) -> None:
    """A copy of a row planted where `column` is `unchecked` passes the daily tests and fails them with
    test_scope all; planted where it is `checked`, it fails the daily tests."""
    with planted(wh, table, column) as plant:
        plant(unchecked)
        assert "ERROR=0" in wh.dbt(*test, variables=DAILY)
        assert "ERROR=1" in wh.dbt(*test, variables=EVERY, expect_ok=False)
        plant(checked)
        assert "ERROR=1" in wh.dbt(*test, variables=DAILY, expect_ok=False)


def test_tests_of_keyed_models_and_of_raw_rows_check_what_the_last_run_took(landed, wh, tmp_path) -> None:
    """A keyed model's tests check the keys its last run rewrote (funnel_keyed_rewritten): a duplicate planted on
    another deal passes them and fails them with test_scope all; one planted on the rewritten deal fails them. The
    tests of privacy_raw_rows (one row per raw row) check the rows of the loads the last build took, likewise."""
    table = "dev_staging.stg_pipedrive__deal_changes"
    deal, other = _land_one_line_again(landed, wh, tmp_path, "deal_changes", table, "deal_id")
    test = ["test", "--select", "stg_pipedrive__deal_changes,test_name:unique_not_null"]
    _assert_tests_check(wh, test, table, "deal_id", checked=deal, unchecked=other)
    with planted(wh, table, "deal_id") as plant:
        plant(other)  # then its deal and its key made null: no run records a null deal, every run checks it
        wh.query(
            f"update {table} set deal_id = null, deal_change_id = null"
            f" where ctid = (select ctid from {table} where deal_id = %s limit 1)",
            (other,),
        )
        assert "ERROR=1" in wh.dbt(*test, variables=DAILY, expect_ok=False)

    base = "dev_staging.base_pipedrive__deal_changes"
    first_load, new_load = wh.query(f"select min(_load_id), max(_load_id) from {base}")[0]
    test = ["test", "--select", "privacy_raw_rows,test_name:unique_combination"]
    # a raw row of the export's load again passes; one of the new load fails
    _assert_tests_check(wh, test, base, "_load_id", checked=new_load, unchecked=first_load)


def test_tests_of_views_check_the_keys_their_keyed_inputs_rebuilt(landed, wh, tmp_path) -> None:
    """A view's tests with meta test_scope {column, keys_of} check the rows whose column value is a key the named
    keyed model's last run rebuilt: int_activities_joined (a view over stg_pipedrive__activities) with a
    duplicate planted on an activity that no new load carries passes them, and fails them with test_scope all;
    planted on the activity a load brought again, it fails them."""
    table = "dev_staging.stg_pipedrive__activities"
    activity, other = _land_one_line_again(landed, wh, tmp_path, "activity", table, "activity_id")
    test = ["test", "--select", "int_activities_joined,test_name:unique_not_null"]
    _assert_tests_check(wh, test, table, "activity_id", checked=activity, unchecked=other)
