"""Raw landing is lossless: every record is a raw row or a reject with a reason, and loads are idempotent."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from orchestration.core.contracts import source_tables

HEADER = "activity_id,type,assigned_to_user,deal_id,done,due_to"


def csv_records(path: Path) -> int:
    """Independent count of data records: Python's csv module over the file, minus the header."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def counts(wh, table: str, file_name: str) -> tuple[int, int]:
    raw = wh.scalar(f"select count(*) from raw_pipedrive.{table} where _source_file = %s", (file_name,))
    rejected = wh.scalar("select count(*) from raw.load_rejects where file_name = %s and line_number > 1", (file_name,))
    return int(raw), int(rejected)


def test_real_export_lands_every_record_once(wh, shared_export: Path) -> None:
    first = wh.load(shared_export, "pipedrive")
    assert {r.file_name for r in first} == {t.file_name for t in source_tables("pipedrive")}
    for table in source_tables("pipedrive"):
        raw, rejected = counts(wh, table.name, table.file_name)
        assert rejected == 0
        assert raw == csv_records(shared_export / table.file_name), table.name
    # deal_changes' first data row, exactly as written, with its lineage
    assert wh.query(
        "select deal_id, change_time, changed_field_key, new_value, _source_line from raw_pipedrive.deal_changes"
        " where _source_line = 2"
    ) == [("881836", "2024-04-09 21:32:09", "add_time", "2024-04-09T21:32:09", 2)]
    total = wh.scalar("select count(*) from raw_pipedrive.deal_changes")
    second = wh.load(shared_export, "pipedrive")
    assert {r.status for r in second} == {"skipped"}
    assert wh.scalar("select count(*) from raw_pipedrive.deal_changes") == total


MALFORMED: dict[str, tuple[str | bytes, int, Any]] = {
    "wrong_field_count": (
        f"{HEADER}\n1,meeting,5,10,True,2024-01-01T00:00:00\n2,meeting,5,10,True\n"
        "3,meeting,5,10,True,2024-01-01T00:00:00,extra\n",
        1,
        ["expected 6 fields, found 5", "expected 6 fields, found 7"],
    ),
    "unterminated_quote": (
        f'{HEADER}\n1,meeting,5,10,True,2024-01-01T00:00:00\n2,"meeting,5,10,True,2024-01-02\n'
        "3,sc_2,5,11,False,2024-01-03T00:00:00\n",
        2,
        ["unterminated quoted field"],
    ),
    "non_utf8": (
        HEADER.encode() + b"\n1,meeting,5,10,True,2024-01-01\n2,m\xe9eting,5,10,True,2024-01-01\n",
        1,
        ["invalid UTF-8 byte 0xe9 at byte 4"],
    ),
    "bom_crlf_no_final_newline": (
        b"\xef\xbb\xbf" + f"{HEADER}\r\n1,meeting,5,10,True,x\r\n2,sc_2,5,10,No,y".encode(),
        2,
        [],
    ),
    "quoted_newline_and_blank_line": (
        f'{HEADER}\n1,"multi\nline",5,10,True,x\n\n2,sc_2,5,10,No,y\n',
        2,
        ["empty line"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_loaded_or_rejected_per_line(wh, tmp_path: Path, case: str) -> None:
    content, loaded, reasons = MALFORMED[case]
    path = tmp_path / f"activity__{case}.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (result,) = wh.load(tmp_path, "pipedrive")
    raw = wh.scalar(
        "select count(*) from raw_pipedrive.activity where _load_id = (select max(load_id) from raw.load_ledger)"
    )
    got = [
        r[0]
        for r in wh.query(
            "select reason from raw.load_rejects where load_id = "
            "(select max(load_id) from raw.load_ledger) order by line_number"
        )
    ]
    assert raw == loaded == result.rows_loaded
    assert got == reasons
    assert result.rows_loaded + result.rows_rejected == csv_records(path) or case == "unterminated_quote"
    ledger = wh.query(
        "select data_lines, rows_loaded, rows_rejected from raw.load_ledger where load_id = "
        "(select max(load_id) from raw.load_ledger)"
    )[0]
    assert ledger[1:] == (result.rows_loaded, result.rows_rejected)


def test_unterminated_quote_keeps_the_lines_after_it(wh, tmp_path: Path) -> None:
    path = tmp_path / "activity__quote.csv"
    path.write_text(f'{HEADER}\n1,"meeting,5,10,True,a\n2,sc_2,5,11,False,b\n3,sc_2,5,12,False,c\n')
    (result,) = wh.load(tmp_path, "pipedrive")
    rows = wh.query(
        "select activity_id, _source_line from raw_pipedrive.activity where _source_file = %s order by 2",
        (path.name,),
    )
    assert rows == [("2", 3), ("3", 4)]
    assert [(r.line_number, r.reason) for r in result.rejects] == [(2, "unterminated quoted field")]
    assert result.rows_loaded + result.rows_rejected == result.data_lines


def test_bom_crlf_and_missing_newline_load_faithfully(wh, tmp_path: Path) -> None:
    path = tmp_path / "activity__bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\r\n7,meeting,5,10,True,2024-01-01T00:00:00".encode())
    (result,) = wh.load(tmp_path, "pipedrive")
    assert wh.query("select activity_id, due_to from raw_pipedrive.activity where _source_file = %s", (path.name,)) == [
        ("7", "2024-01-01T00:00:00")
    ]
    assert set(result.notes) >= {"UTF-8 byte-order mark removed", "CRLF line endings", "no final newline"}


def test_header_problems(wh, tmp_path: Path) -> None:
    (tmp_path / "activity__missing.csv").write_text("activity_id,type,deal_id,done,due_to\n1,meeting,10,True,x\n")
    (tmp_path / "activity__extra.csv").write_text(f"{HEADER},colour\n1,meeting,5,10,True,x,blue\n")
    (tmp_path / "activity__empty.csv").write_text("")
    results = {r.file_name: r for r in wh.load(tmp_path, "pipedrive")}
    missing = results["activity__missing.csv"]
    assert missing.rows_loaded == 0 and missing.rows_rejected == 1
    assert missing.rejects[0].reason.startswith("header lacks column(s) assigned_to_user")
    extra = results["activity__extra.csv"]
    assert extra.rows_loaded == 1
    assert (
        wh.scalar(
            "select _extra->>'colour' from raw_pipedrive.activity where _source_file = %s",
            ("activity__extra.csv",),
        )
        == "blue"
    )
    empty = results["activity__empty.csv"]
    assert (empty.rows_loaded, empty.rows_rejected) == (0, 0)
    assert empty.notes == ["empty file: no header line"]
    assert wh.scalar("select reason from raw.load_rejects where file_name = 'activity__empty.csv'") == (
        "empty file: no header line"
    )


def test_changed_or_truncated_file_is_detected_not_double_loaded(wh, tmp_path: Path) -> None:
    path = tmp_path / "stages__v.csv"
    path.write_text("stage_id,stage_name\n1,Lead Generation\n2,Qualified lead\n")
    assert [r.status for r in wh.load(tmp_path, "pipedrive")] == ["loaded"]
    path.write_text("stage_id,stage_name\n1,Lead Generation\n2,Qualif")  # truncated mid-line
    (changed,) = wh.load(tmp_path, "pipedrive")
    assert changed.status == "changed"
    assert wh.scalar("select count(*) from raw_pipedrive.stages where _source_file = 'stages__v.csv'") == 2
    (replaced,) = wh.load(tmp_path, "pipedrive", replace=True)
    assert replaced.status == "replaced"
    assert wh.query("select stage_name from raw_pipedrive.stages where _source_file = 'stages__v.csv' order by 1") == [
        ("Lead Generation",),
        ("Qualif",),
    ]
    assert (
        wh.scalar("select count(*) from raw.load_ledger where file_name = 'stages__v.csv' and superseded_by is null")
        == 1
    )


def test_identical_content_under_another_name_is_skipped(wh, tmp_path: Path) -> None:
    (tmp_path / "users__a.csv").write_text("id,name,email,modified\n1,A,a@example.org,2024-01-01 00:00:00\n")
    wh.load(tmp_path, "pipedrive")
    other = tmp_path / "again"
    other.mkdir()
    shutil.copy(tmp_path / "users__a.csv", other / "users__copy.csv")
    (result,) = wh.load(other, "pipedrive")
    assert result.status == "skipped"
    assert wh.scalar("select count(*) from raw_pipedrive.users where _source_file like 'users\\_\\_%'") == 1
