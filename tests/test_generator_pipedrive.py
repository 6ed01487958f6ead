"""The synthetic Pipedrive export: deterministic, shaped like the real one, messy on purpose, streaming."""

from __future__ import annotations

import csv
import hashlib
import re
import tracemalloc
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from orchestration.ingest.generators.pipedrive import generate_pipedrive

END = date(2025, 3, 31)
DAYS = 540
FILES = ("deal_changes.csv", "activity.csv", "activity_types.csv", "stages.csv", "users.csv", "fields.csv")
STATIC_FILES = ("activity_types.csv", "stages.csv", "fields.csv")
HEADERS = {
    "deal_changes.csv": "deal_id,change_time,changed_field_key,new_value",
    "activity.csv": "activity_id,type,assigned_to_user,deal_id,done,due_to",
    "activity_types.csv": "id,name,active,type",
    "stages.csv": "stage_id,stage_name",
    "users.csv": "id,name,email,modified",
    "fields.csv": "ID,FIELD_KEY,NAME,FIELD_VALUE_OPTIONS",
}
REAL_EXPORT = Path(__file__).resolve().parents[2] / "shared" / "data" / "pipedrive_enpal"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digests(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FILES}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("pipedrive")
    return out, generate_pipedrive(out, deals=2000, seed=42, end=END, days=DAYS)


@pytest.fixture(scope="module")
def changes(export: tuple[Path, dict[str, int]]) -> list[dict[str, str]]:
    return _rows(export[0] / "deal_changes.csv")


@pytest.fixture(scope="module")
def activities(export: tuple[Path, dict[str, int]]) -> list[dict[str, str]]:
    return _rows(export[0] / "activity.csv")


def test_same_seed_same_bytes_other_seed_other_bytes(export: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    generate_pipedrive(tmp_path / "again", deals=2000, seed=42, end=END, days=DAYS)
    generate_pipedrive(tmp_path / "other", deals=2000, seed=43, end=END, days=DAYS)
    first, again, other = _digests(export[0]), _digests(tmp_path / "again"), _digests(tmp_path / "other")
    assert first == again
    for name in ("deal_changes.csv", "activity.csv", "users.csv"):
        assert first[name] != other[name]
    for name in STATIC_FILES:
        assert first[name] == other[name]


def test_headers_and_returned_counts(export: tuple[Path, dict[str, int]]) -> None:
    out, counts = export
    assert set(counts) == set(FILES)
    for name in FILES:
        text = (out / name).read_text(encoding="utf-8")
        assert text.splitlines()[0] == HEADERS[name]
        assert len(_rows(out / name)) == counts[name], name
    assert counts["users.csv"] == 40  # max(20, deals // 50)
    assert (counts["activity_types.csv"], counts["stages.csv"], counts["fields.csv"]) == (4, 9, 4)


@pytest.mark.shared
@pytest.mark.skipif(not REAL_EXPORT.is_dir(), reason="real export not available")
def test_contract_matches_the_real_export(export: tuple[Path, dict[str, int]]) -> None:
    out = export[0]
    for name in FILES:
        real_header = (REAL_EXPORT / name).read_text(encoding="utf-8").splitlines()[0]
        assert (out / name).read_text(encoding="utf-8").splitlines()[0] == real_header
    for name in STATIC_FILES:  # byte for byte, CRLF of fields.csv and missing final newline included
        assert (out / name).read_bytes() == (REAL_EXPORT / name).read_bytes()


def test_final_newlines_as_in_the_real_export(export: tuple[Path, dict[str, int]]) -> None:
    out = export[0]
    for name in STATIC_FILES:
        assert not (out / name).read_bytes().endswith(b"\n"), name
    for name in ("deal_changes.csv", "activity.csv", "users.csv"):
        assert (out / name).read_bytes().endswith(b"\n"), name
    assert b"\r\n" in (out / "fields.csv").read_bytes()


def test_value_formats_and_window(
    export: tuple[Path, dict[str, int]], changes: list[dict[str, str]], activities: list[dict[str, str]]
) -> None:
    start, last = datetime.combine(END - timedelta(days=DAYS), datetime.min.time()), END.isoformat()
    users = _rows(export[0] / "users.csv")
    user_ids = {row["id"] for row in users}
    assert [int(row["id"]) for row in users] == list(range(1, len(users) + 1))
    for row in users:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", row["modified"])
        assert row["email"].endswith(("@example.org", "@example.com"))
    keys = Counter(row["changed_field_key"] for row in changes)
    assert set(keys) == {"add_time", "user_id", "stage_id", "lost_reason"}
    for row in changes:
        assert datetime.strptime(row["change_time"], "%Y-%m-%d %H:%M:%S") >= start
        assert row["change_time"][:10] <= last
        if row["changed_field_key"] == "add_time":
            assert row["new_value"] == row["change_time"].replace(" ", "T")
        elif row["changed_field_key"] == "user_id":
            assert row["new_value"] in user_ids
        elif row["changed_field_key"] == "stage_id":
            assert 1 <= int(row["new_value"]) <= 9
        else:
            assert 1 <= int(row["new_value"]) <= 5
    latest_due = (END + timedelta(days=30)).isoformat()
    for row in activities:
        assert row["type"] in {"meeting", "sc_2", "follow_up", "after_close_call"}
        assert row["done"] in {"True", "False"}
        assert row["assigned_to_user"] in user_ids
        assert re.fullmatch(r"\d{6}", row["activity_id"])
        due = datetime.strptime(row["due_to"], "%Y-%m-%dT%H:%M:%S")
        assert start <= due and row["due_to"][:10] <= latest_due
        if row["due_to"][:10] > last:
            assert row["done"] == "False"
    deals = len({row["deal_id"] for row in changes})
    assert 6 <= len(changes) / deals <= 9
    assert 3 <= len(activities) / deals <= 5


def test_stage_drop_off(changes: list[dict[str, str]]) -> None:
    reached: dict[int, set[str]] = defaultdict(set)
    for row in changes:
        if row["changed_field_key"] == "stage_id":
            reached[int(row["new_value"])].add(row["deal_id"])
    counts = [len(reached[stage]) for stage in range(1, 10)]
    assert counts[0] > 1500
    for shallower, deeper in pairwise(counts):
        assert deeper <= shallower * 1.05
    assert counts[8] < counts[0] / 3


def test_lifecycles_skip_and_mostly_end_lost(changes: list[dict[str, str]]) -> None:
    per_deal: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in changes:
        per_deal[row["deal_id"]].append(row)
    skipped = lost = 0
    for rows in per_deal.values():
        assert rows[0]["changed_field_key"] == "add_time"
        stages = [int(row["new_value"]) for row in rows if row["changed_field_key"] == "stage_id"]
        skipped += any(b > a + 1 for a, b in pairwise(stages))
        lost += rows[-1]["changed_field_key"] == "lost_reason"
    assert skipped > len(per_deal) / 4
    assert lost > len(per_deal) / 2


def test_the_mess_is_there(changes: list[dict[str, str]], activities: list[dict[str, str]]) -> None:
    add_times = Counter(row["deal_id"] for row in changes if row["changed_field_key"] == "add_time")
    assert 1 <= sum(n > 1 for n in add_times.values()) <= 20
    deals_of_activity: dict[str, set[str]] = defaultdict(set)
    for row in activities:
        deals_of_activity[row["activity_id"]].add(row["deal_id"])
    assert 1 <= sum(len(deal_ids) > 1 for deal_ids in deals_of_activity.values()) <= len(activities) / 100
    orphans = {row["deal_id"] for row in activities} - set(add_times)
    assert 1 <= len(orphans) <= len(add_times) / 20
    lines = Counter(tuple(row.values()) for row in activities)
    assert 1 <= sum(n - 1 for n in lines.values()) <= 2


def test_progress_reports_running_totals(tmp_path: Path) -> None:
    seen: list[int] = []
    counts = generate_pipedrive(tmp_path, deals=20_000, seed=7, end=END, progress=seen.append)
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert seen[0] >= 100_000
    assert seen[-1] == sum(counts.values())


def test_memory_stays_flat(tmp_path: Path) -> None:
    peaks = []
    for deals in (2_000, 20_000):
        tracemalloc.start()
        generate_pipedrive(tmp_path / str(deals), deals=deals, seed=1, end=END)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.25 * peaks[0]
