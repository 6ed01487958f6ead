"""Source contracts: the files each CRM export must contain and their columns, as the loader lands them.

The contract is declared once, in the dbt sources YAML of each source
(dbt_project/models/staging/<source>/_<source>__sources.yml): the loader, the generators and Dagster read it
from there, and so do the staging macros (through dbt's graph), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.core.errors import FunnelError
from orchestration.core.settings import DBT_PROJECT_DIR

# The sources the loader lands, in the order commands list them (privacy's YAML describes no export).
LOADED_SOURCES = ("pipedrive", "field_crm")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    # Per column: its contract meta (type, required, fold, staged_as, pii); table meta: staging, key, event_date,
    # dedupe, lookup.
    column_meta: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def dated_by(self) -> str | None:
        """The raw column whose dates bound what a load of this table changes; None when any date may change
        (a lookup, or a table without an event date)."""
        return None if self.meta.get("lookup") else self.meta.get("event_date")

    @property
    def staging_model(self) -> str:
        """The staging model the table's staged rows land in (contract `staging`)."""
        return str(self.meta["staging"])


def contract_path(source: str) -> Path:
    """Where a source's contract lives (the dbt sources YAML of its staging folder)."""
    return DBT_PROJECT_DIR / "models" / "staging" / source / f"_{source}__sources.yml"


def _is_loader_column(name: str) -> bool:
    # The loader's lineage columns (_source_file, _extra, ...) start with '_'; a contract column never does.
    return name.startswith("_")


@cache
def source_declaration(source: str) -> dict[str, Any]:
    """The source's entry in its sources YAML, as written."""
    document = yaml.safe_load(contract_path(source).read_text(encoding="utf-8"))
    (declared,) = [s for s in document["sources"] if s["name"] == source]
    return dict(declared)


def read_contract(source: str) -> tuple[Table, ...]:
    """The tables of one source's YAML contract, their data columns in file order (lineage columns left out)."""
    declared = source_declaration(source)
    tables = []
    for table in declared["tables"]:
        columns = [c for c in table["columns"] if not _is_loader_column(c["name"])]
        tables.append(
            Table(
                name=table["name"],
                columns=tuple(c["name"] for c in columns),
                column_meta={c["name"]: dict(c.get("config", {}).get("meta", {})) for c in columns},
                meta=dict(table.get("config", {}).get("meta", {}).get("contract", {})),
            )
        )
    return tuple(tables)


SOURCES: dict[str, tuple[Table, ...]] = {source: read_contract(source) for source in LOADED_SOURCES}
# Per source, the staging model that proves raw = staged + duplicates + rejected (source meta `reconciliation`).
RECONCILIATION_MODELS: dict[str, str] = {
    source: str(source_declaration(source)["config"]["meta"]["reconciliation"]) for source in LOADED_SOURCES
}


def source_tables(source: str) -> tuple[Table, ...]:
    try:
        return SOURCES[source]
    except KeyError:
        raise FunnelError(f"unknown source {source!r}", f"use one of: {', '.join(SOURCES)}") from None


def raw_schema(source: str) -> str:
    return f"raw_{source}"
