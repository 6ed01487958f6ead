"""Raw Pipedrive rows reconcile exactly with staging: raw = staged (+ collapsed duplicates) + rejected.

Generated data plus later drops (`<table>__bad.csv`, landed in the same raw tables) holding deliberately bad
rows: non-numeric and missing ids, impossible dates, an unknown changed_field_key, values of the wrong type,
exact and whitespace-only duplicates, an unknown stage id and an unknown activity type. Every bad row is either
rejected with its reason or kept and surfaced (unknown stage / type in funnel_step_exceptions).
"""

from __future__ import annotations

import csv
from datetime import date

import pytest
from dbt_helpers import PIPEDRIVE_SEEDS, assert_pipedrive_raw_rows_reconcile, write_csv

from orchestration.ingest.generators.pipedrive import generate_pipedrive

SEEDS = " ".join(PIPEDRIVE_SEEDS)
HEADERS = {
    "deal_changes": ["deal_id", "change_time", "changed_field_key", "new_value"],
    "activity": ["activity_id", "type", "assigned_to_user", "deal_id", "done", "due_to"],
    "users": ["id", "name", "email", "modified"],
    "stages": ["stage_id", "stage_name"],
    "activity_types": ["id", "name", "active", "type"],
    "fields": ["ID", "FIELD_KEY", "NAME", "FIELD_VALUE_OPTIONS"],
}
# (table, row, expected reject reason or None when the row must be kept)
BAD_ROWS: list[tuple[str, list[str], str | None]] = [
    ("deal_changes", ["abc", "2025-01-05 10:00:00", "stage_id", "2"], "deal_id is not an integer"),
    ("deal_changes", ["", "2025-01-05 10:00:00", "stage_id", "2"], "deal_id is missing"),
    ("deal_changes", ["12.5", "2025-01-05 10:00:00", "stage_id", "2"], "deal_id is not an integer"),
    ("deal_changes", ["900001", "2025-02-30 10:00:00", "stage_id", "2"], "change_time is not a valid timestamp"),
    ("deal_changes", ["900001", "yesterday", "stage_id", "2"], "change_time is not a valid timestamp"),
    ("deal_changes", ["900001", "", "stage_id", "2"], "change_time is missing"),
    ("deal_changes", ["900001", "2025-01-05 10:00:00", "colour", "red"], "changed_field_key is unknown"),
    ("deal_changes", ["900001", "2025-01-05 10:00:00", "", "2"], "changed_field_key is missing"),
    ("deal_changes", ["900001", "2025-01-05 10:00:00", "stage_id", "two"], "new_value is not an integer"),
    ("deal_changes", ["900001", "2025-01-05 10:00:00", "stage_id", ""], "new_value is missing"),
    (
        "deal_changes",
        ["900001", "2025-01-05 10:00:00", "add_time", "2025-13-01T00:00:00"],
        "new_value is not a valid timestamp",
    ),
    ("deal_changes", ["900001", "2025-01-05 10:00:00", "stage_id", "77"], None),  # unknown stage: kept, surfaced
    ("activity", ["x1", "meeting", "5", "900001", "True", "2025-01-01T00:00:00"], "activity_id is not an integer"),
    ("activity", ["9001", "meeting", "5", "", "True", "2025-01-01T00:00:00"], "deal_id is missing"),
    ("activity", ["9002", "meeting", "5", "900001", "Maybe", "2025-01-01T00:00:00"], "done is not a boolean"),
    ("activity", ["9003", "meeting", "5", "900001", "True", "2025-01-32T00:00:00"], "due_to is not a valid timestamp"),
    ("activity", ["9004", "", "5", "900001", "True", "2025-01-01T00:00:00"], "type is missing"),
    (
        "activity",
        ["9005", "meeting", "five", "900001", "True", "2025-01-01T00:00:00"],
        "assigned_to_user is not an integer",
    ),
    ("activity", ["9006", "video_call", "5", "900001", "Yes", "2025-01-05T00:00:00"], None),  # unknown type: kept
    ("users", ["u1", "Some One", "some@example.org", "2024-01-01 00:00:00"], "id is not an integer"),
    ("stages", ["", "Orphan stage"], "stage_id is missing"),
    ("activity_types", ["7", "Demo", "Perhaps", "demo"], "active is not a boolean"),
    ("fields", ["99", "colour", "Colour", "[not json"], "field_value_options is not JSON"),
]


@pytest.fixture(scope="module")
def built(wh, tmp_path_factory):
    export = tmp_path_factory.mktemp("pipedrive_bad")
    generate_pipedrive(export, deals=150, seed=3, end=date(2025, 3, 31), days=90)
    with (export / "deal_changes.csv").open(newline="", encoding="utf-8") as fh:
        first_change = list(csv.reader(fh))[1]
    padded = [f"  {value} " for value in first_change]
    duplicates = [first_change, padded]  # an exact copy and a whitespace-only variant of a loaded row
    for table, header in HEADERS.items():
        rows = [row for name, row, _ in BAD_ROWS if name == table]
        rows += duplicates if table == "deal_changes" else []
        write_csv(export / f"{table}__bad.csv", header, rows)
    wh.load(export, "pipedrive")
    wh.dbt(
        "build",
        "--select",
        f"{SEEDS} staging.pipedrive +funnel_step_exceptions",
        "--exclude",
        "test_type:generic test_type:unit",
        "--indirect-selection",
        "cautious",
        variables={"source_dt": "2025-03-31"},
    )
    return wh, first_change


def test_raw_rows_equal_staged_plus_rejected(built) -> None:
    wh, _ = built
    assert_pipedrive_raw_rows_reconcile(wh, "dev_staging")


def test_every_bad_row_is_rejected_with_its_reason(built) -> None:
    wh, _ = built
    rejects = {
        (file, line): reason
        for file, line, reason in wh.query(
            "select _source_file, _source_line, reject_reason from dev_staging.stg_pipedrive__rejects"
        )
    }
    expected = {}
    for table in HEADERS:
        rows = [(row, reason) for name, row, reason in BAD_ROWS if name == table]
        for line, (_row, reason) in enumerate(rows, start=2):
            if reason:
                expected[(f"{table}__bad.csv", line)] = reason
    assert rejects == expected


def test_duplicates_collapse_with_their_count(built) -> None:
    wh, first_change = built
    deal_id, change_time, key, value = first_change
    count, file, line = wh.query(
        "select source_rows_count, _source_file, _source_line from dev_staging.stg_pipedrive__deal_changes"
        " where deal_id = %s and changed_at = %s::timestamp at time zone 'UTC'"
        " and changed_field_key = %s and new_value = %s",
        (int(deal_id), change_time, key, value),
    )[0]
    assert (count, file, line) == (3, "deal_changes.csv", 2)  # lineage of the first copy


def test_unknown_stage_and_type_are_kept_and_surfaced(built) -> None:
    wh, _ = built
    exceptions = {
        (kind, key): (in_lookup, events)
        for kind, key, in_lookup, events in wh.query(
            "select source_kind, source_key, is_in_lookup, events_count from dev_quality.funnel_step_exceptions"
        )
    }
    assert exceptions[("stage", "77")] == (False, 1)
    assert exceptions[("activity_type", "video_call")] == (False, 1)
    assert wh.scalar("select count(*) from dev_staging.stg_pipedrive__deal_changes where stage_id = 77") == 1
