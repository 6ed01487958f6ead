"""Lossless raw landing: every CSV record becomes a raw row (all text, with lineage) or a reject with a reason.

Each file loads in one transaction: its raw rows, its rejects and its ledger row commit together, so a crash
leaves either the whole file or none of it. The ledger makes loads idempotent by content (sha256).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.core.contracts import Table, raw_schema, source_tables
from orchestration.core.errors import FunnelError
from orchestration.core.privacy_tables import ensure_privacy_tables
from orchestration.core.warehouse import connect, scalar

BOM = b"\xef\xbb\xbf"
# A quoted value may legitimately span lines; beyond this many it is an unterminated quote, not a value.
MAX_RECORD_LINES = 200
BATCH_RECORDS = 20_000
LEDGER_DDL = """
create schema if not exists raw;
create table if not exists raw.load_ledger (
    load_id bigserial primary key,
    source text not null,
    table_name text not null,
    file_name text not null,
    file_path text not null,
    file_sha256 text not null,
    file_bytes bigint not null,
    data_lines bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    notes text,
    loaded_at timestamptz not null default now(),
    superseded_by bigint references raw.load_ledger (load_id)
);
create table if not exists raw.load_rejects (
    load_id bigint not null references raw.load_ledger (load_id),
    source text not null,
    table_name text not null,
    file_name text not null,
    line_number bigint,
    reason text not null,
    raw_line text
);
create index if not exists load_rejects_load_id on raw.load_rejects (load_id);
"""
# The lineage columns are filled by column defaults that read the load's settings (set_config in the load's
# transaction). Declared immutable so that the planner folds each call into a constant once per statement
# (COPY plans its defaults when it starts): read per row, current_setting() cost as much as the COPY itself.
# The value is fixed for the whole COPY, which is what a load wants; do not call it from views or functions.
LOAD_SETTING_DDL = """
create or replace function raw.load_setting(name text) returns text
language sql immutable parallel safe
as $$ select current_setting(name) $$
"""
# Sequence values a session takes at once: one catalog update per block of lines instead of one per line.
LINE_SEQ_CACHE = 10_000


def lineage_defaults(seq: str) -> dict[str, str]:
    """Default expression of each lineage column; `seq` is the table's line sequence (schema-qualified)."""
    return {
        "_source_file": "raw.load_setting('funnel.source_file')",
        "_source_line": f"nextval('{seq}'::regclass) - (raw.load_setting('funnel.line_offset'))::bigint",
        "_file_sha256": "raw.load_setting('funnel.file_sha256')",
        "_load_id": "(raw.load_setting('funnel.load_id'))::bigint",
    }


@dataclass
class Reject:
    line_number: int | None
    reason: str
    raw_line: str | None
    is_record: bool = True  # False for file-level problems (header, empty file) that are not a data record


@dataclass
class FileResult:
    table: str
    file_name: str
    status: str  # loaded | skipped | changed | replaced
    data_lines: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    notes: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def files_for(directory: Path, table: Table) -> list[Path]:
    """`<table>.csv`, plus `<table>__<suffix>.csv` for later drops of the same table."""
    pattern = re.compile(rf"^{re.escape(table.name)}(__[^/]+)?\.csv$", re.IGNORECASE)
    return sorted(p for p in directory.iterdir() if p.is_file() and pattern.match(p.name))


def ensure_raw_tables(db: psycopg.Connection, source: str) -> None:
    db.execute(LEDGER_DDL)
    ensure_privacy_tables(db)  # staging reads the suppression list: it exists wherever raw data does
    if scalar(db, "select to_regprocedure('raw.load_setting(text)') is null"):
        db.execute(LOAD_SETTING_DDL)
    schema = raw_schema(source)
    db.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    for table in source_tables(source):
        seq_name = f"{schema}.{table.name}__line_seq"
        db.execute(
            sql.SQL("create sequence if not exists {} cache {}").format(
                sql.Identifier(schema, f"{table.name}__line_seq"), sql.Literal(LINE_SEQ_CACHE)
            )
        )
        defaults = lineage_defaults(seq_name)
        cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in table.columns]
        db.execute(
            sql.SQL(
                """create table if not exists {tbl} ({cols},
                    _source_file text not null default {source_file},
                    _source_line bigint not null default {source_line},
                    _file_sha256 text not null default {file_sha256},
                    _load_id bigint not null default {load_id},
                    _loaded_at timestamptz not null default now(),
                    _extra jsonb)"""
            ).format(
                tbl=sql.Identifier(schema, table.name),
                cols=sql.SQL(", ").join(cols),
                source_file=sql.SQL(defaults["_source_file"]),
                source_line=sql.SQL(defaults["_source_line"]),
                file_sha256=sql.SQL(defaults["_file_sha256"]),
                load_id=sql.SQL(defaults["_load_id"]),
            )
        )
        _upgrade_lineage_defaults(db, schema, table.name, seq_name, defaults)


def _upgrade_lineage_defaults(
    db: psycopg.Connection, schema: str, table: str, seq: str, defaults: dict[str, str]
) -> None:
    """Tables and sequences created by an earlier version (defaults read per row, no sequence cache) get the
    current ones; nothing is altered (no lock taken) when they are current already."""
    current: dict[str, str] = dict(
        db.execute(
            "select a.attname, pg_get_expr(d.adbin, d.adrelid) from pg_attrdef as d"
            " join pg_attribute as a on a.attrelid = d.adrelid and a.attnum = d.adnum"
            " where d.adrelid = %s::regclass and a.attname = any(%s)",
            (f'"{schema}"."{table}"', list(defaults)),
        ).fetchall()
    )
    for column, expression in defaults.items():
        if "load_setting" not in str(current.get(column, "")):
            db.execute(
                sql.SQL("alter table {} alter column {} set default {}").format(
                    sql.Identifier(schema, table), sql.Identifier(column), sql.SQL(expression)
                )
            )
    cache = db.execute("select seqcache from pg_sequence where seqrelid = %s::regclass", (seq,)).fetchone()
    if cache and cache[0] < LINE_SEQ_CACHE:
        db.execute(
            sql.SQL("alter sequence {} cache {}").format(
                sql.Identifier(schema, f"{table}__line_seq"), sql.Literal(LINE_SEQ_CACHE)
            )
        )


def _physical_lines(fh: io.BufferedReader, result: FileResult) -> Iterator[tuple[int, bytes]]:
    """Yield (line_number, bytes without terminator) for data lines; note CRLF and a missing final newline."""
    crlf = False
    last = b"\n"
    for number, line in enumerate(fh, start=2):
        result.data_lines += 1
        last = line
        if line.endswith(b"\r\n"):
            crlf = True
            line = line[:-2]
        elif line.endswith(b"\n"):
            line = line[:-1]
        yield number, line
    if crlf and "CRLF line endings" not in result.notes:
        result.notes.append("CRLF line endings")
    if not last.endswith(b"\n"):
        result.notes.append("no final newline")


def _records(lines: Iterator[tuple[int, bytes]], rejects: list[Reject]) -> Iterator[tuple[int, str]]:
    """Assemble records (a quoted value may span lines), rejecting undecodable lines and unterminated quotes."""
    pending: list[tuple[int, str]] = []
    source = iter(lines)
    replay: list[tuple[int, bytes]] = []

    def next_line() -> tuple[int, str] | None:
        while True:
            if replay:
                number, raw = replay.pop()
            else:
                item = next(source, None)
                if item is None:
                    return None
                number, raw = item
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.append(
                    Reject(
                        number,
                        f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}",
                        raw.decode("utf-8", "backslashreplace"),
                    )
                )
                continue
            if "\x00" in text:
                rejects.append(Reject(number, "NUL byte in line", text.replace("\x00", "\\x00")))
                continue
            return number, text

    while (item := next_line()) is not None:
        if item[1].count('"') % 2 == 0:
            yield item
            continue
        pending = [item]
        balanced = False
        while len(pending) < MAX_RECORD_LINES and (more := next_line()) is not None:
            pending.append(more)
            if sum(text.count('"') for _, text in pending) % 2 == 0:
                balanced = True
                break
        if balanced:
            yield pending[0][0], "\n".join(text for _, text in pending)
            continue
        # Unterminated quote: reject its first line, re-read the lines it swallowed.
        rejects.append(Reject(pending[0][0], "unterminated quoted field", pending[0][1]))
        replay.extend((n, t.encode("utf-8")) for n, t in reversed(pending[1:]))


def _parse_batch(batch: list[tuple[int, str]], rejects: list[Reject]) -> list[tuple[int, list[str]]]:
    try:
        rows = list(csv.reader(text for _, text in batch))
        if len(rows) == len(batch):
            return [(number, row) for (number, _), row in zip(batch, rows, strict=True)]
    except csv.Error:
        pass
    parsed = []
    for number, text in batch:
        try:
            rows = list(csv.reader([text]))
        except csv.Error as exc:
            rejects.append(Reject(number, f"malformed CSV: {exc}", text))
            continue
        if len(rows) != 1:
            rejects.append(Reject(number, "malformed CSV: line breaks outside quotes", text))
            continue
        parsed.append((number, rows[0]))
    return parsed


def _header(fh: io.BufferedReader, table: Table, notes: list[str]) -> tuple[list[str] | None, str | None]:
    """Return the normalised header names, or an error that makes every record of the file a reject."""
    first = fh.readline()
    if first.startswith(BOM):
        notes.append("UTF-8 byte-order mark removed")
        first = first[len(BOM) :]
    if first.endswith(b"\r\n"):
        notes.append("CRLF line endings")
    try:
        text = first.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError:
        return None, "header line is not UTF-8"
    names = [c.strip().lower().replace(" ", "_") for c in next(csv.reader([text]), [])]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        return None, f"header repeats column(s) {', '.join(dupes)}"
    missing = [c for c in table.columns if c not in names]
    if missing:
        return None, f"header lacks column(s) {', '.join(missing)} (found: {', '.join(names)})"
    extra = [n for n in names if n not in table.columns]
    if extra:
        notes.append(f"unknown column(s) {', '.join(extra)} kept in _extra")
    return names, None


def _fast_copy(db: psycopg.Connection, schema: str, table: Table, fh: io.BufferedReader, result: FileResult) -> bool:
    """COPY the file's bytes as they are; True if every data line became exactly one row.

    Line numbers come from a per-table sequence (loads of a table are serialised by an advisory lock, so
    they are consecutive). Anything unusual (bad bytes, wrong field counts, quoted line breaks, blank
    lines) makes COPY fail or the counts differ: the savepoint is rolled back and the careful path runs.
    """
    start = fh.tell()
    seq = f"{schema}.{table.name}__line_seq"
    copy_sql = sql.SQL("copy {} ({}) from stdin (format csv, force_not_null ({}))").format(
        sql.Identifier(schema, table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        sql.SQL(", ").join(map(sql.Identifier, table.columns)),
    )
    lines, last, crlf = 0, b"\n", False
    try:
        with db.transaction():
            # One round trip: take the next value, make it the sequence's current one (setval also drops this
            # session's cached values, so the COPY's lines continue from it) and set the offset to it - 1.
            db.execute("select set_config('funnel.line_offset', (setval(%s, nextval(%s)) - 1)::text, true)", (seq, seq))
            with db.cursor() as cur:
                with cur.copy(copy_sql) as copy:
                    while chunk := fh.read(1 << 20):
                        lines += chunk.count(b"\n")
                        crlf = crlf or b"\r\n" in chunk
                        last = chunk[-1:]
                        copy.write(chunk)
                rows = cur.rowcount
            data_lines = lines + (0 if last == b"\n" else 1)
            if rows != data_lines:
                raise _Fallback
    except (psycopg.Error, _Fallback):
        fh.seek(start)
        return False
    result.data_lines = result.rows_loaded = data_lines
    if crlf and "CRLF line endings" not in result.notes:
        result.notes.append("CRLF line endings")
    if last != b"\n":
        result.notes.append("no final newline")
    return True


class _Fallback(Exception):
    """The fast path's row count does not match the file's lines."""


def _copy_file(db: psycopg.Connection, schema: str, table: Table, path: Path, result: FileResult) -> None:
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            result.notes.append("empty file: no header line")
            result.rejects.append(Reject(None, "empty file: no header line", None, is_record=False))
            return
        names, header_error = _header(fh, table, result.notes)
        if names == list(table.columns) and _fast_copy(db, schema, table, fh, result):
            return
        fh.seek(0)
        fh.readline()
        records = _records(_physical_lines(fh, result), result.rejects)
        if header_error or names is None:
            result.rejects.append(Reject(1, header_error or "bad header", None, is_record=False))
            for number, text in records:
                result.rejects.append(Reject(number, header_error or "bad header", text))
            return
        positions = [names.index(c) for c in table.columns]
        extras = [(i, n) for i, n in enumerate(names) if n not in table.columns]
        target_cols = [*table.columns, "_source_line"] + (["_extra"] if extras else [])
        copy_sql = sql.SQL("copy {} ({}) from stdin (format csv, force_not_null ({}))").format(
            sql.Identifier(schema, table.name),
            sql.SQL(", ").join(map(sql.Identifier, target_cols)),
            sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        )
        width = len(names)
        with db.cursor().copy(copy_sql) as copy:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            batch: list[tuple[int, str]] = []

            def flush() -> None:
                for number, row in _parse_batch(batch, result.rejects):
                    if len(row) != width:
                        reason = "empty line" if row in ([], [""]) else f"expected {width} fields, found {len(row)}"
                        result.rejects.append(Reject(number, reason, ",".join(row)))
                        continue
                    out = [row[p] for p in positions]
                    out.append(str(number))
                    if extras:
                        out.append(json.dumps({n: row[i] for i, n in extras}, ensure_ascii=False))
                    writer.writerow(out)
                    result.rows_loaded += 1
                batch.clear()
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()

            for record in records:
                batch.append(record)
                if len(batch) >= BATCH_RECORDS:
                    flush()
            flush()


def _load_file(db: psycopg.Connection, source: str, table: Table, path: Path, replace: bool) -> FileResult:
    schema = raw_schema(source)
    digest = sha256_of(path)
    result = FileResult(table.name, path.name, "loaded")
    with db.transaction():
        db.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"funnel.load.{schema}.{table.name}",))
        same = db.execute(
            "select load_id from raw.load_ledger where source = %s and table_name = %s and file_sha256 = %s"
            " and superseded_by is null",
            (source, table.name, digest),
        ).fetchone()
        if same:
            result.status = "skipped"
            result.notes.append(f"identical content already loaded (load {same[0]})")
            return result
        previous = db.execute(
            "select load_id, file_sha256 from raw.load_ledger where source = %s and table_name = %s"
            " and file_name = %s and superseded_by is null",
            (source, table.name, path.name),
        ).fetchone()
        if previous and not replace:
            result.status = "changed"
            result.notes.append(
                f"content differs from load {previous[0]} (sha256 {previous[1][:12]} -> {digest[:12]}); not loaded"
            )
            return result
        load_id = scalar(
            db,
            "insert into raw.load_ledger (source, table_name, file_name, file_path, file_sha256, file_bytes,"
            " data_lines, rows_loaded, rows_rejected) values (%s, %s, %s, %s, %s, %s, 0, 0, 0) returning load_id",
            (source, table.name, path.name, str(path.resolve()), digest, path.stat().st_size),
        )
        db.execute(
            "select set_config('funnel.source_file', %s, true), set_config('funnel.file_sha256', %s, true),"
            " set_config('funnel.load_id', %s, true)",
            (path.name, digest, str(load_id)),
        )
        if previous:
            db.execute(
                sql.SQL("delete from {} where _source_file = %s").format(sql.Identifier(schema, table.name)),
                (path.name,),
            )
            db.execute("update raw.load_ledger set superseded_by = %s where load_id = %s", (load_id, previous[0]))
            result.status = "replaced"
            result.notes.append(f"superseded load {previous[0]}")
        _copy_file(db, schema, table, path, result)
        result.rows_rejected = sum(r.is_record for r in result.rejects)
        if result.rejects:
            with db.cursor().copy(
                "copy raw.load_rejects (load_id, source, table_name, file_name, line_number, reason, raw_line)"
                " from stdin"
            ) as copy:
                for r in result.rejects:
                    copy.write_row((load_id, source, table.name, path.name, r.line_number, r.reason, r.raw_line))
        db.execute(
            "update raw.load_ledger set data_lines = %s, rows_loaded = %s, rows_rejected = %s, notes = %s"
            " where load_id = %s",
            (
                result.data_lines,
                result.rows_loaded,
                result.rows_rejected,
                "; ".join(result.notes) or None,
                load_id,
            ),
        )
    return result


def load_directory(
    directory: Path,
    source: str,
    *,
    replace: bool = False,
    on_file: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Land every contract file of `source` found in `directory`; report files that do not belong to it."""
    tables = source_tables(source)
    if not directory.is_dir():
        raise FunnelError(f"{directory} is not a directory", f"pass the folder that holds the {source} CSV files")
    known = {p for t in tables for p in files_for(directory, t)}
    if not known:
        expected = ", ".join(t.file_name for t in tables)
        raise FunnelError(f"no {source} files in {directory}", f"expected some of: {expected}")
    results: list[FileResult] = []
    with connect() as db:
        with db.transaction():
            db.execute("select pg_advisory_xact_lock(hashtext('funnel.load.ddl'))")
            ensure_raw_tables(db, source)
        for table in tables:
            for path in files_for(directory, table):
                result = _load_file(db, source, table, path, replace)
                results.append(result)
                if on_file:
                    on_file(result)
    for stray in sorted(p for p in directory.glob("*.csv") if p not in known):
        result = FileResult("-", stray.name, "ignored", notes=[f"not part of the {source} contract"])
        results.append(result)
        if on_file:
            on_file(result)
    return results
