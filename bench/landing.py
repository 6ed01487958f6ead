"""The last generated day as a real morning: held back from the initial load, landed with `funnel load`, and
taken out again so that each repeat of the daily measure starts from the same evening before."""

from __future__ import annotations

import csv
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.common import BenchError, ChildRun, log, run_child
from bench.harness import BenchBase
from orchestration.core import warehouse
from orchestration.core.contracts import SOURCES, raw_schema

# How the generators write an event time: ISO date or datetime, or MM/DD/YYYY (field_crm's US exports).
_ISO_DAY = re.compile(r"\s*(\d{4}-\d{2}-\d{2})")
_US_DAY = re.compile(r"\s*(\d{2})/(\d{2})/(\d{4})")


def day_of(value: str) -> str | None:
    """The ISO day an event-time value falls on (UTC, the business time zone the benchmark uses); None when
    unparseable: such a row has no day to hold back, so it stays in the initial load."""
    if match := _ISO_DAY.match(value):
        return match.group(1)
    if match := _US_DAY.match(value):
        return f"{match.group(3)}-{match.group(1)}-{match.group(2)}"
    return None


def day_file_name(table: str, day: date) -> str:
    """A later drop of a table, as the loader names it (`<table>__<suffix>.csv`)."""
    return f"{table}__{day.isoformat()}.csv"


def split_last_day(folder: Path, day_folder: Path, day: date) -> dict[str, int]:
    """Move the rows dated `day` of every event table (contract `event_date`; lookups stay whole) out of
    folder/<source>/<table>.csv into day_folder/<source>/<table>__<day>.csv; rows held back per day file.

    The generators write with csv.writer's defaults, so rewriting the kept rows the same way gives the same
    bytes: the initial load sees exactly the generated lines minus the held-back ones."""
    wanted = day.isoformat()
    held: dict[str, int] = {}
    for source, tables in SOURCES.items():
        (day_folder / source).mkdir(parents=True, exist_ok=True)
        for table in tables:
            path = folder / source / table.file_name
            if table.dated_by is None or not path.exists():
                continue
            kept_path = path.with_suffix(".keep")
            day_path = day_folder / source / day_file_name(table.name, day)
            rows = 0
            with (
                path.open(newline="", encoding="utf-8") as src,
                kept_path.open("w", newline="", encoding="utf-8") as kept_fh,
                day_path.open("w", newline="", encoding="utf-8") as day_fh,
            ):
                reader = csv.reader(src)
                header = next(reader)
                column = header.index(table.dated_by)
                kept, late = csv.writer(kept_fh, lineterminator="\n"), csv.writer(day_fh, lineterminator="\n")
                kept.writerow(header)
                late.writerow(header)
                for row in reader:
                    if len(row) > column and day_of(row[column]) == wanted:
                        late.writerow(row)
                        rows += 1
                    else:
                        kept.writerow(row)
            kept_path.replace(path)
            if rows:
                held[f"{source}/{day_path.name}"] = rows
            else:
                day_path.unlink()  # nothing of that table happened that day: no file arrives
    return held


class DayLanding(BenchBase):
    """Landing the held-back day and taking it out again."""

    def folders(self) -> list[Path]:
        """The whole dataset, in landing order: the initial load, then the last day."""
        return [self.data_dir, self.day_dir]

    def day_files(self) -> list[tuple[str, Path]]:
        return [(source, p) for source in SOURCES for p in sorted((self.day_dir / source).glob("*.csv"))]

    def split_day(self) -> dict[str, Any]:
        held = split_last_day(self.data_dir, self.day_dir, self.end)
        log(f"held back {sum(held.values()):,} rows dated {self.end} in {len(held)} files")
        return {"day": self.end.isoformat(), "rows": sum(held.values()), "rows_per_file": held}

    def load_once(self, folders: list[Path], dbname: str, label: str) -> ChildRun:
        """Into a new database: the folders' files, in order (the initial load, then the day as it lands)."""
        conn = self.conn.with_database(dbname)
        warehouse.drop_database(conn)
        warehouse.ensure_database(conn)
        return self.load_folders(folders, label, dbname)

    def load_folders(self, folders: list[Path], label: str, dbname: str | None = None) -> ChildRun:
        """`funnel load` of every source found in the folders, in order; times summed."""
        env = os.environ.copy()
        env["FUNNEL_DB_NAME"] = dbname or self.dbname
        total = ChildRun(0.0, 0.0, 0.0)
        for folder in folders:
            for source in SOURCES:
                if not any((folder / source).glob("*.csv")):
                    continue
                self.checkpoint()
                log_path = self.logs / f"{label}-{folder.name}-{source}.log"
                run = run_child(["load", str(folder / source), "--source", source], env, log_path)
                total = ChildRun(
                    total.wall_s + run.wall_s, total.inner_s + run.inner_s, max(total.peak_rss_mb, run.peak_rss_mb)
                )
        return total

    def landed_rows(self) -> dict[str, int]:
        """Raw rows of the landed day, per file, from the load ledger."""
        names = [p.name for _, p in self.day_files()]
        return {
            f"{source}/{name}": int(rows)
            for source, name, rows in self.query(
                "select source, file_name, rows_loaded from raw.load_ledger"
                " where file_name = any(%s) and superseded_by is null order by 1, 2",
                (names,),
            )
        }

    def land_day(self, label: str) -> tuple[ChildRun, dict[str, int]]:
        run = self.load_folders([self.day_dir], label)
        return run, self.landed_rows()

    def unland_day(self) -> None:
        """Take the landed day out of raw (rows, rejects, ledger) and step the ledger's id sequence back: landing
        it again then gives the same load ids, which staging carries, so the runs compare with the reference."""
        pairs = [(source, p.name) for source, p in self.day_files()]
        if not pairs:
            return
        touched: set[tuple[str, str]] = set()
        with self.db() as db, db.transaction():
            rows = db.execute(
                "select load_id, source, table_name from raw.load_ledger"
                " where (source, file_name) in (select * from unnest(%s::text[], %s::text[]))",
                ([s for s, _ in pairs], [n for _, n in pairs]),
            ).fetchall()
            if not rows:
                return
            ids = [int(r[0]) for r in rows]
            later = db.execute("select count(*) from raw.load_ledger where load_id >= %s", (min(ids),)).fetchone()
            if later is None or later[0] != len(ids):
                raise BenchError("the landed day is not the last load: it cannot be taken out and landed again")
            for _, source, table in rows:
                touched.add((raw_schema(source), table))
            for schema, table in sorted(touched):
                db.execute(
                    sql.SQL("delete from {} where _load_id = any(%s)").format(sql.Identifier(schema, table)), (ids,)
                )
            db.execute("delete from raw.load_rejects where load_id = any(%s)", (ids,))
            db.execute("delete from raw.load_ledger where load_id = any(%s)", (ids,))
            db.execute(
                "select setval(pg_get_serial_sequence('raw.load_ledger', 'load_id'), max(load_id)) from raw.load_ledger"
            )
        for schema, table in sorted(touched):
            self.query(sql.SQL("vacuum analyze {}").format(sql.Identifier(schema, table)))
