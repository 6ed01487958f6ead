"""Every dbt test a Dagster run executes is a check result of that run: none "Skipped", none logged as a bare
observation. Both sources, a three-day backfill of `dbt_daily_job` as the daemon would launch it (one run):
relationship tests from a fact to a dimension run once, with the fact; source tests are checks on the raw
assets; singular tests over several models are checks on the model their `meta.dagster.ref` names.

Marked `ui` (what the Dagster UI shows): `make test-ui` runs it, as `.ci/run` does."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
from dagster_helpers import dagster_daily
from single_source import user_env

from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.pipedrive import generate_pipedrive

pytestmark = pytest.mark.ui
FIRST, LAST = "2024-11-03", "2024-11-05"


@pytest.fixture(scope="module")
def run(wh, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    export = tmp_path_factory.mktemp("export")
    generate_pipedrive(export / "pipedrive", deals=100, seed=11, end=date(2024, 11, 30), days=60)
    generate_field_crm(export / "field_crm", leads=200, seed=3, end=date(2024, 11, 30), days=60)
    wh.load(export / "pipedrive", "pipedrive")
    wh.load(export / "field_crm", "field_crm")
    return dagster_daily(user_env(wh, tmp_path_factory.mktemp("user")), FIRST, LAST)


def test_every_planned_check_is_evaluated_and_each_dbt_step_is_one_invocation(run) -> None:
    # dagster_daily asserted: no step skipped, no planned check left unevaluated, no dbt test as observation
    assert Counter(step for step, _ in run["dbt_commands"]) == {"dbt_models": 1, "dbt_incremental_models": 1}
    assert len(run["checks"]) > 200  # every dbt test of both sources (212) and the GX checkpoints


def test_cross_model_tests_are_checks_where_they_belong(run) -> None:
    names = Counter(name for name, _, _ in run["checks"])
    for name in (
        "relationships_lead_funnel_daily_branch_key__branch_key__ref_dim_branches_",  # fact -> dimension
        "source_not_null_pipedrive_deal_changes__loaded_at",  # on the raw asset
        "accepted_values_stg_pipedrive__file_reconciliation_is_reconciled__True",  # raw = staged + duplicate + rejected
        "assert_field_crm_daily_sales_match_jobs",
    ):
        assert names[name] == 1, (name, names[name])
