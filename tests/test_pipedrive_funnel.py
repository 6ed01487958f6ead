"""The Pipedrive funnel on the real export: the BI mart equals an independent computation of its definition.

`rep_sales_funnel_monthly` is recomputed here from the CSV files with the csv module only (never from a dbt
model): distinct deals per calendar month (business time zone) that reached each of the 11 funnel steps,
on a complete month x step grid. Also: raw rows reconcile with staging + rejects, and a bad `source_dt`
fails naming the var and the value.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dbt_helpers import PIPEDRIVE_SEEDS, assert_pipedrive_raw_rows_reconcile

pytestmark = pytest.mark.shared

SOURCE_DT = date(2025, 3, 31)
# The definition, written out independently of seeds/pipedrive/funnel_steps.csv.
STEPS = ["1", "2", "2.1", "3", "3.1", "4", "5", "6", "7", "8", "9"]
KPI_NAMES = {
    "1": "Lead Generation",
    "2": "Qualified Lead",
    "2.1": "Sales Call 1",
    "3": "Needs Assessment",
    "3.1": "Sales Call 2",
    "4": "Proposal/Quote Preparation",
    "5": "Negotiation",
    "6": "Closing",
    "7": "Implementation/Onboarding",
    "8": "Follow-up/Customer Success",
    "9": "Renewal/Expansion",
}
STAGE_STEPS = {str(stage): str(stage) for stage in range(1, 10)}  # steps 1-9: the deal enters stage N
ACTIVITY_STEPS = {"sales call 1": "2.1", "sales call 2": "3.1"}  # by activity type *name*, when done
SEEDS = " ".join(PIPEDRIVE_SEEDS)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k.strip().lower(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _instant(text: str) -> datetime:
    """The export's naive timestamps are UTC."""
    return datetime.fromisoformat(text.replace("T", " ")).replace(tzinfo=UTC)


def _month(day: date) -> date:
    return date(day.year, day.month, 1)


def expected_funnel(export: Path, source_dt: date, timezone: str) -> dict[tuple[date, str], tuple[str, int]]:
    """(month, step) -> (kpi_name, distinct deals that reached the step in that month), complete grid."""
    zone = ZoneInfo(timezone)
    end = datetime.combine(source_dt + timedelta(days=1), time(), zone)  # the end of source_dt, local time
    reached: dict[tuple[date, str], set[str]] = defaultdict(set)

    def reach(deal_id: str, step: str, at: datetime) -> None:
        if at < end:
            reached[(_month(at.astimezone(zone).date()), step)].add(deal_id)

    for row in _rows(export / "deal_changes.csv"):
        step = STAGE_STEPS.get(row["new_value"]) if row["changed_field_key"] == "stage_id" else None
        if step:
            reach(row["deal_id"], step, _instant(row["change_time"]))
    type_names = {row["type"]: row["name"].lower() for row in _rows(export / "activity_types.csv")}
    for row in _rows(export / "activity.csv"):
        step = ACTIVITY_STEPS.get(type_names.get(row["type"], ""))
        if step and row["done"] == "True":
            reach(row["deal_id"], step, _instant(row["due_to"]))

    first, last = min(month for month, _ in reached), _month(source_dt)
    months = []
    while first <= last:
        months.append(first)
        first = _month(first + timedelta(days=31))
    return {(m, s): (KPI_NAMES[s], len(reached.get((m, s), ()))) for m in months for s in STEPS}


@pytest.fixture(scope="module")
def built(wh, shared_export):
    """The real export loaded and the funnel built twice: UTC (schema dev) and Europe/Berlin (schema berlin)."""
    wh.load(shared_export, "pipedrive")
    for schema, zone in (("dev", "UTC"), ("berlin", "Europe/Berlin")):
        variables = {"source_dt": SOURCE_DT.isoformat(), "business_timezone": zone}
        wh.dbt(
            "build",
            "--select",
            f"{SEEDS} +rep_sales_funnel_monthly" + (" staging.pipedrive" if schema == "dev" else ""),
            "--resource-type",
            "seed",
            "--resource-type",
            "model",
            variables=variables,
            schema=schema,
        )
    return wh


@pytest.mark.parametrize(("schema", "zone"), [("dev", "UTC"), ("berlin", "Europe/Berlin")])
def test_rep_sales_funnel_monthly_equals_independent_computation(built, shared_export, schema, zone):
    expected = expected_funnel(shared_export, SOURCE_DT, zone)
    rows = built.query(f"select month, funnel_step, kpi_name, deals_count from {schema}_marts.rep_sales_funnel_monthly")
    actual = {(month, step): (kpi, count) for month, step, kpi, count in rows}
    assert len(rows) == len(actual), "one row per month and step"
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(
        (key, expected[key], actual[key]) for key in set(expected) & set(actual) if expected[key] != actual[key]
    )
    assert not missing and not extra and not wrong, f"missing {missing[:5]} extra {extra[:5]} wrong {wrong[:5]}"
    assert len(actual) == 11 * len({month for month, _ in actual})
    assert sum(count for _, count in actual.values()) > 0


def test_raw_rows_reconcile_with_staging_and_rejects(built):
    assert_pipedrive_raw_rows_reconcile(built, "dev_staging")
    # The real export's anomalies are kept and listed, not dropped.
    collisions = dict(
        built.query("select collision_type, count(*) from dev_staging.stg_pipedrive__identity_collisions group by 1")
    )
    assert collisions == {"deal_id_with_several_add_times": 5, "activity_id_reused": 11}
    assert built.scalar("select count(*) from dev_staging.stg_pipedrive__activities") == 4579


@pytest.mark.parametrize("bad", ["2025-02-30", "yesterday"])
def test_bad_source_dt_fails_naming_the_var_and_value(built, bad):
    output = built.dbt("run", "--select", "rep_sales_funnel_monthly", variables={"source_dt": bad}, expect_ok=False)
    assert f'var source_dt="{bad}" is invalid' in output, output[-2000:]
