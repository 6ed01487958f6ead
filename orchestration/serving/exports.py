"""Streaming exports of one mart, filtered by a date window and a region, to csv, json (JSON Lines) or parquet
with bounded memory: COPY for csv, a server-side cursor for the others."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestration.core.dbt import dbt_env, parse_source_dt
from orchestration.core.errors import FunnelError
from orchestration.core.settings import Connection
from orchestration.core.warehouse import connect

Progress = Callable[[int], None]

FORMATS = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}
DATE_TYPES = ("date", "timestamp with time zone", "timestamp without time zone")


def marts_schema(target: str | None = None) -> str:
    """The schema the marts are built in, as macros/generate_schema_name.sql names it."""
    env = dbt_env(target=target)
    name = env.get("FUNNEL_TARGET", "dev")
    if name == "prod":
        return "marts"
    return f"{env.get('FUNNEL_DB_SCHEMA') or name}_marts"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    precision: int | None
    scale: int | None


@dataclass
class ExportResult:
    model: str
    fmt: str
    path: Path
    rows: int
    sha256: str
    columns: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)


def mart_columns(db: psycopg.Connection, schema: str, model: str) -> list[Column]:
    rows = db.execute(
        """
        select column_name, data_type, numeric_precision, numeric_scale
        from information_schema.columns
        where table_schema = %s and table_name = %s
        order by ordinal_position
        """,
        (schema, model),
    ).fetchall()
    if not rows:
        marts = [
            r[0]
            for r in db.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1", (schema,)
            ).fetchall()
        ]
        raise FunnelError(
            f"no mart named {model!r} in schema {schema}",
            f"marts: {', '.join(marts)}" if marts else "build the marts first: funnel build",
        )
    return [Column(r[0], r[1], r[2], r[3]) for r in rows]


def _date_column(columns: list[Column], wanted: str | None) -> Column | None:
    if wanted:
        for col in columns:
            if col.name == wanted:
                if col.data_type not in DATE_TYPES:
                    raise FunnelError(f"column {wanted!r} is {col.data_type}, not a date", "pick a date column")
                return col
        raise FunnelError(f"no column {wanted!r}", f"columns: {', '.join(c.name for c in columns)}")
    for kind in DATE_TYPES:
        for col in columns:
            if col.data_type == kind:
                return col
    return None


def _export_query(
    model: str,
    schema: str,
    columns: list[Column],
    start: date | None,
    end: date | None,
    region: str | None,
    date_column: str | None,
) -> tuple[sql.Composed, dict[str, str]]:
    """`select ... where <window and region> order by <every column>`, values inlined as quoted literals."""
    filters: dict[str, str] = {}
    where: list[sql.Composable] = []
    if start or end:
        col = _date_column(columns, date_column)
        if col is None:
            raise FunnelError(f"{model} has no date column to filter on", "export it without --start/--end")
        filters["date_column"] = col.name
        if start:
            where.append(sql.SQL("{} >= {}").format(sql.Identifier(col.name), sql.Literal(start)))
            filters["start"] = start.isoformat()
        if end:
            # half-open: the whole end day is in, whatever the column's type
            where.append(sql.SQL("{} < {}").format(sql.Identifier(col.name), sql.Literal(end + timedelta(days=1))))
            filters["end"] = end.isoformat()
    if region is not None:
        if "region" not in {c.name for c in columns}:
            raise FunnelError(f"{model} has no region column", "export it without --region")
        where.append(sql.SQL("region = {}").format(sql.Literal(region)))
        filters["region"] = region
    query = sql.SQL("select * from {} as t").format(sql.Identifier(schema, model))
    if where:
        query += sql.SQL(" where ") + sql.SQL(" and ").join(where)
    query += sql.SQL(" order by ") + sql.SQL(", ").join(sql.Identifier("t", c.name) for c in columns)
    return query, filters


class _HashingWriter(io.RawIOBase):
    """A binary file that hashes what it writes; written to `<path>.part` and renamed on success."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.file = self.part.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += len(view)
        return self.file.write(view)

    def tell(self) -> int:
        return self.size

    def commit(self) -> str:
        self.file.close()
        os.replace(self.part, self.path)
        return self.digest.hexdigest()

    def abort(self) -> None:
        self.file.close()
        self.part.unlink(missing_ok=True)


def _csv_records(chunk: bytes, in_quote: bool) -> tuple[int, bool]:
    """Records ended in a chunk of CSV (newlines outside quotes) and whether the chunk ends inside a quote."""
    count = 0
    for i, part in enumerate(chunk.split(b'"')):
        if i:
            in_quote = not in_quote
        if not in_quote:
            count += part.count(b"\n")
    return count, in_quote


def _write_csv(db: psycopg.Connection, query: sql.Composed, out: _HashingWriter, progress: Progress) -> int:
    records, in_quote, reported = 0, False, 0
    copy_sql = sql.SQL("copy ({}) to stdout with (format csv, header)").format(query)
    with db.cursor() as cur, cur.copy(copy_sql) as copy:
        for chunk in copy:
            out.write(chunk)
            n, in_quote = _csv_records(bytes(chunk), in_quote)
            records += n
            if records - reported >= 10_000:
                reported = records
                progress(max(records - 1, 0))
    return max(records - 1, 0)  # minus the header


def _batches(db: psycopg.Connection, query: sql.Composed, batch_rows: int) -> Iterator[list[tuple[Any, ...]]]:
    with db.cursor(name="funnel_export") as cur:
        cur.itersize = batch_rows
        cur.execute(query)
        while rows := cur.fetchmany(batch_rows):
            yield rows


def _write_json(
    db: psycopg.Connection, query: sql.Composed, out: _HashingWriter, progress: Progress, batch_rows: int
) -> int:
    """JSON Lines, one object per row, rendered by Postgres (row_to_json keeps column order and exact numbers)."""
    rows = 0
    lines = sql.SQL("select row_to_json(j)::text from ({}) as j").format(query)
    for batch in _batches(db, lines, batch_rows):
        out.write(("\n".join(r[0] for r in batch) + "\n").encode())
        rows += len(batch)
        progress(rows)
    return rows


def _arrow_schema(db: psycopg.Connection, query: sql.Composed, columns: list[Column]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

    # Unconstrained numeric columns get the smallest decimal that holds every exported value exactly.
    loose = [c for c in columns if c.data_type == "numeric" and c.precision is None]
    scales: dict[str, tuple[int, int]] = {}
    if loose:
        probes = sql.SQL(", ").join(
            sql.SQL("coalesce(max(scale({c})), 0), coalesce(max(length(trunc(abs({c}))::text)), 1)").format(
                c=sql.Identifier(c.name)
            )
            for c in loose
        )
        row = db.execute(sql.SQL("select {} from ({}) as s").format(probes, query)).fetchone()
        assert row is not None
        for i, col in enumerate(loose):
            scales[col.name] = (int(row[2 * i]), int(row[2 * i + 1]))

    def arrow_type(col: Column) -> Any:
        simple = {
            "smallint": pa.int16(),
            "integer": pa.int32(),
            "bigint": pa.int64(),
            "real": pa.float32(),
            "double precision": pa.float64(),
            "boolean": pa.bool_(),
            "date": pa.date32(),
            "timestamp with time zone": pa.timestamp("us", tz="UTC"),
            "timestamp without time zone": pa.timestamp("us"),
        }
        if col.data_type in simple:
            return simple[col.data_type]
        if col.data_type == "numeric":
            if col.precision is not None:
                return pa.decimal128(col.precision, col.scale or 0)
            scale, digits = scales[col.name]
            if scale + digits > 38:
                return pa.string()
            return pa.decimal128(max(scale + digits, 1), scale)
        return pa.string()

    return pa.schema([pa.field(c.name, arrow_type(c)) for c in columns])


def _write_parquet(
    db: psycopg.Connection,
    query: sql.Composed,
    columns: list[Column],
    out: _HashingWriter,
    progress: Progress,
    batch_rows: int,
) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise FunnelError("parquet export needs pyarrow", "pip install pyarrow, or export csv/json") from None
    schema = _arrow_schema(db, query, columns)
    as_text = [
        pa.types.is_string(f.type) and c.data_type not in ("text", "character varying")
        for f, c in zip(schema, columns, strict=True)
    ]
    rows = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in _batches(db, query, batch_rows):
            arrays = []
            for i, f in enumerate(schema):
                values = [r[i] for r in batch]
                if as_text[i]:
                    values = [None if v is None else str(v) for v in values]
                arrays.append(pa.array(values, type=f.type))
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            rows += len(batch)
            progress(rows)
    return rows


def export_model(
    model: str,
    fmt: str,
    start: str | date | None = None,
    end: str | date | None = None,
    region: str | None = None,
    out: Path | str = Path("."),
    progress: Progress | None = None,
    *,
    conn: Connection | None = None,
    schema: str | None = None,
    date_column: str | None = None,
    batch_rows: int = 10_000,
) -> ExportResult:
    """Stream one mart to a file, filtered to [start, end] (inclusive days) on its date column and a region.

    Rows come out ordered by every column, so the same data gives the same file (and sha256). Memory stays
    bounded by one batch whatever the mart's size. `out` is a file, or a folder to write `<model>.<ext>` in.
    """
    if fmt not in FORMATS:
        raise FunnelError(f"unknown export format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", model):
        raise FunnelError(f"{model!r} is not a model name", "e.g. rep_sales_funnel_monthly")
    first = start if isinstance(start, date) or start is None else parse_source_dt(start, "start")
    last = end if isinstance(end, date) or end is None else parse_source_dt(end, "end")
    if first and last and first > last:
        raise FunnelError(f"start {first} is after end {last}", "swap them")
    schema = schema or marts_schema()
    path = Path(out)
    if path.is_dir() or not path.suffix:
        path = path / f"{model}{FORMATS[fmt]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _rows: None)
    with connect(conn) as db:
        db.execute("set local timezone = 'UTC'")
        columns = mart_columns(db, schema, model)
        query, filters = _export_query(model, schema, columns, first, last, region, date_column)
        writer = _HashingWriter(path)
        try:
            if fmt == "csv":
                rows = _write_csv(db, query, writer, report)
            elif fmt == "json":
                rows = _write_json(db, query, writer, report, batch_rows)
            else:
                rows = _write_parquet(db, query, columns, writer, report, batch_rows)
        except BaseException:
            writer.abort()
            raise
        digest = writer.commit()
    report(rows)
    return ExportResult(model, fmt, path, rows, digest, [c.name for c in columns], filters)
