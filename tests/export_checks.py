"""What the export tests compare: a relation's rows as a count and an order-independent checksum, and an
exported file loaded back into an empty copy of its mart (csv, JSON Lines or Parquet)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from conftest import Warehouse
from psycopg import sql

ALL_ROWS = sql.SQL("true")


def checksum(wh: Warehouse, relation: sql.Composable, where: sql.Composable = ALL_ROWS) -> tuple[int, str]:
    """Row count and an order-independent md5 over the rows' text (numbers with trailing zeros trimmed)."""
    with psycopg.connect(wh.conn.url(), autocommit=True) as db:
        return _checksum(db, relation, where)


def _checksum(db: psycopg.Connection, relation: sql.Composable, where: sql.Composable) -> tuple[int, str]:
    cur = db.execute(sql.SQL("select * from {} as t where {} limit 0").format(relation, where))
    names = [d.name for d in cur.description or ()]
    types = {
        r[0]: r[1]
        for r in db.execute(
            sql.SQL(
                "select attname, format_type(atttypid, atttypmod) from pg_attribute"
                " where attrelid = {}::regclass and attnum > 0"
            ).format(sql.Literal(relation.as_string(db)))
        ).fetchall()
    }
    parts = [
        sql.SQL(
            "coalesce(trim_scale(t.{})::text, '~')" if types[n].startswith("numeric") else "coalesce(t.{}::text, '~')"
        ).format(sql.Identifier(n))
        for n in names
    ]
    row = sql.SQL("concat_ws('|', {})").format(sql.SQL(", ").join(parts))
    count, digest = db.execute(
        sql.SQL(
            "select count(*), md5(coalesce(string_agg({row}, E'\\n' order by {row}), '')) from {rel} as t where {w}"
        ).format(row=row, rel=relation, w=where)
    ).fetchone()  # type: ignore[misc]
    return int(count), str(digest)


def reimport(wh: Warehouse, relation: sql.Composable, fmt: str, path: Path) -> tuple[int, str]:
    """Load an exported file back into an empty copy of `relation` and checksum it."""
    with psycopg.connect(wh.conn.url()) as db:
        db.execute(sql.SQL("create temp table back (like {})").format(relation))
        if fmt == "csv":
            with db.cursor().copy("copy back from stdin with (format csv, header)") as copy, path.open("rb") as fh:
                while chunk := fh.read(65536):
                    copy.write(chunk)
        elif fmt == "json":
            db.execute("create temp table lines (line text)")
            with db.cursor().copy("copy lines from stdin") as copy, path.open(encoding="utf-8") as fh:
                for line in fh:
                    copy.write_row((line.rstrip("\n"),))
            db.execute("insert into back select (json_populate_record(null::back, line::json)).* from lines")
        else:
            import pyarrow.parquet as pq  # type: ignore[import-untyped]  # pyarrow ships no type information

            table = pq.read_table(path)
            with db.cursor().copy("copy back from stdin") as copy:
                for record in table.to_pylist():
                    copy.write_row(list(record.values()))
        return _checksum(db, sql.Identifier("back"), sql.SQL("true"))
