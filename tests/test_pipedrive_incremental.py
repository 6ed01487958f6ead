"""The incremental contract of the Pipedrive funnel tables, on small generated data.

A full refresh at D0 followed by daily incremental runs D1..D10 (backfill 3, across a month end and a DST
change in the business time zone Europe/Berlin) equals a full refresh at D10, row for row, for every
incremental model; a rerun changes nothing; a late row inside the next window is picked up; a day whose
rows all vanish upstream leaves no stale rows; a backfill of past days after later days were built leaves
every table equal to a full refresh at the latest day.

dbt runs in-process here (dbtRunner with a manifest parsed once): the replay needs ~20 runs, and a subprocess
per run would re-parse the project every time (vars change), several times slower. A full refresh is compared
with a snapshot of the incrementally built tables taken just before it, in the same schema.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dbt_helpers import (
    PIPEDRIVE_INCREMENTAL,
    PipedriveDbt,
    assert_equal_to_snapshot,
    checksum,
    snapshot,
    write_csv,
)

from orchestration.ingest.generators.pipedrive import generate_pipedrive

TIMEZONE = "Europe/Berlin"
D0 = date(2025, 3, 24)
DAYS = [D0 + timedelta(days=n) for n in range(1, 11)]  # 25 Mar .. 3 Apr: month end + DST (30 Mar)
D10 = DAYS[-1]
D11 = D10 + timedelta(days=1)
SCHEMA = "inc"
INCREMENTAL = PIPEDRIVE_INCREMENTAL


def relation(model: str, schema: str = SCHEMA) -> str:
    return f"{schema}_{INCREMENTAL[model]}.{model}"


def assert_full_refresh_changes_nothing(wh, dbt: PipedriveDbt, source_dt: date) -> None:
    """Every incremental table, as the runs so far built it, equals its full refresh at `source_dt`."""
    relations = {model: relation(model) for model in INCREMENTAL}
    snapshot(wh, relations, "snapshot")
    dbt.full_refresh(source_dt)
    assert_equal_to_snapshot(wh, relations, "snapshot", "incremental runs and a full refresh")


def incremental_then_full_refresh(wh, dbt: PipedriveDbt, source_dt: date) -> None:
    dbt.incremental(source_dt)
    assert_full_refresh_changes_nothing(wh, dbt, source_dt)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pipedrive_gen")
    generate_pipedrive(out, deals=500, seed=11, end=D11 + timedelta(days=5), days=150)
    return out


@pytest.fixture(scope="module")
def replayed(wh, export, tmp_path_factory) -> PipedriveDbt:
    """A full refresh at D0, then incremental runs D1..D10."""
    wh.load(export, "pipedrive")
    dbt = PipedriveDbt(wh.conn, SCHEMA, tmp_path_factory.mktemp("target"), TIMEZONE)
    dbt.setup(D0)
    for day in DAYS:
        dbt.incremental(day)
    return dbt


def test_incremental_replay_equals_full_refresh(replayed, wh) -> None:
    assert_full_refresh_changes_nothing(wh, replayed, D10)
    # The replayed days are really covered: every day of the replay window has stage entries.
    days = {row[0] for row in wh.query(f"select date_day from {relation('int_deal_stats_daily')}")}
    assert set(DAYS) <= days
    months = {row[0] for row in wh.query(f"select month from {relation('rep_sales_funnel_monthly')}")}
    assert {date(2025, 3, 1), date(2025, 4, 1)} <= months


def test_rerun_changes_nothing(replayed, wh) -> None:
    replayed.incremental(D10)
    before = {model: checksum(wh, relation(model)) for model in INCREMENTAL}
    replayed.incremental(D10)
    assert {model: checksum(wh, relation(model)) for model in INCREMENTAL} == before


def test_late_row_inside_the_next_window_is_picked_up(replayed, wh, tmp_path) -> None:
    late_day = D11 - timedelta(days=2)  # lands after the D10 run, inside the D11 run's window
    entries = (
        f"select coalesce(sum(stage_entries_count), 0) from {relation('int_deal_stats_daily')}"
        " where date_day = %s and stage_id = 7"
    )
    replayed.incremental(D11)
    before = wh.scalar(entries, (late_day,))
    deal_id = wh.scalar("select max(deal_id) from raw_pipedrive.deal_changes where changed_field_key = 'stage_id'")
    write_csv(
        tmp_path / "deal_changes__late.csv",
        ["deal_id", "change_time", "changed_field_key", "new_value"],
        [[deal_id, f"{late_day.isoformat()} 12:00:00", "stage_id", "7"]],
    )
    (result,) = wh.load(tmp_path, "pipedrive")
    assert result.rows_loaded == 1
    incremental_then_full_refresh(wh, replayed, D11)
    assert wh.scalar(entries, (late_day,)) == before + 1


def test_vanished_day_leaves_no_stale_rows(replayed, wh, export, tmp_path) -> None:
    gone = D11 - timedelta(days=1)
    daily_rows = f"select count(*) from {{}} where date_day = '{gone.isoformat()}'"
    replayed.incremental(D11)
    for model in ("int_deal_stats_daily", "int_activity_stats_daily"):
        assert wh.scalar(daily_rows.format(relation(model))) > 0
    # Upstream re-delivers both files without any row of that (business, Europe/Berlin) day.
    for name, column in (("deal_changes.csv", "change_time"), ("activity.csv", "due_to")):
        with (export / name).open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            position = header.index(column)
            kept = [row for row in reader if not _falls_on(row[position], gone)]
        write_csv(tmp_path / name, header, kept)
    wh.load(tmp_path, "pipedrive", replace=True)
    incremental_then_full_refresh(wh, replayed, D11)
    for model in ("int_deal_stats_daily", "int_activity_stats_daily"):
        assert wh.scalar(daily_rows.format(f"snapshot.{model}")) == 0


def test_backfill_of_past_days_after_later_days_equals_a_full_refresh(replayed, wh, tmp_path) -> None:
    """Days after a backfill's window are already built (D11) when a late change lands for a deal on a day
    before them, in the same month, into a stage the deal enters again on a later, built day. The backfill
    re-processes the past window only; the month must stay the roll-up of all its days (the dbt tests on the
    chain pass) and count the deal once: every table equals a full refresh at the latest day, D11."""
    replayed.incremental(D11)
    window_end, backfill = date(2025, 3, 28), 5
    deal_id, stage_id, later_day = wh.query(
        f"select deal_id, stage_id, date_day from {relation('int_deal_stats_daily')}"
        " where funnel_step is not null and date_day between '2025-03-29' and '2025-03-31'"
        " order by date_day, deal_id, stage_id limit 1"
    )[0]
    write_csv(
        tmp_path / "deal_changes__backfilled.csv",
        ["deal_id", "change_time", "changed_field_key", "new_value"],
        [[str(deal_id), "2025-03-25 12:00:00", "stage_id", str(stage_id)]],
    )
    (result,) = wh.load(tmp_path, "pipedrive")
    assert result.rows_loaded == 1
    replayed.incremental(window_end, backfill)
    replayed("test", "--select", *INCREMENTAL, source_dt=window_end, backfill=backfill)
    assert (
        wh.scalar(
            f"select count(*) from {relation('int_deal_stats_daily')} where deal_id = %s and stage_id = %s"
            " and date_day in (date '2025-03-25', %s)",
            (deal_id, stage_id, later_day),
        )
        == 2
    ), "the late day and the later built day both hold the deal"
    assert_full_refresh_changes_nothing(wh, replayed, D11)


def _falls_on(text: str, day: date) -> bool:
    """Whether a UTC timestamp of the export falls on `day` in the business time zone."""
    instant = datetime.fromisoformat(text.replace("T", " ")).replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(TIMEZONE)).date() == day
