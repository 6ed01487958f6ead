"""Great Expectations (GX Core 1.x): the file data context in `expectations/gx/`, checkpoints, Data Docs.

Layout (all reviewable JSON/YAML, in the repo):

    expectations/gx/great_expectations.yml          datasource `warehouse` + one table asset per mart
    expectations/gx/expectations/<mart>.json         the suite of a mart
    expectations/gx/validation_definitions/<mart>.json
    expectations/gx/checkpoints/<mart>.json         one checkpoint per mart, named like the dbt model

Nothing secret or machine-specific is in those files: the connection string, the folder for validation
results and the Data Docs folder are substitution variables filled at run time from `orchestration.core.settings`
(the warehouse, with `search_path` set to the schemas the marts are built in) and FUNNEL_HOME:

    validation results  $FUNNEL_HOME/gx/validations/
    Data Docs           $FUNNEL_HOME/gx_docs/index.html

Expectation severities: `critical` failures fail the Dagster check with ERROR (blocking downstream assets),
`warning` failures (freshness) with WARN. Freshness expectations compare the newest date/month with suite
parameters derived from the run's reference date minus FUNNEL_FRESHNESS_DAYS (default 7):

    min_newest_day    as_of - FUNNEL_FRESHNESS_DAYS
    min_newest_month  first day of that day's month
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from orchestration.core.settings import EXPECTATIONS_DIR, Connection, connection, funnel_home

GX_DIR = EXPECTATIONS_DIR / "gx"
DATASOURCE = "warehouse"
SAMPLE_ROWS = 10


def _gx_home() -> Path:
    """Where validation results and Data Docs go: FUNNEL_GX_HOME, default $FUNNEL_HOME."""
    configured = os.environ.get("FUNNEL_GX_HOME", "").strip()
    return Path(configured) if configured else funnel_home()


def docs_dir() -> Path:
    return _gx_home() / "gx_docs"


def results_dir() -> Path:
    return _gx_home() / "gx" / "validations"


def checkpoint_names() -> list[str]:
    """The checkpoints in the repo (one per mart), read from their files without importing GX."""
    return sorted(p.stem for p in (GX_DIR / "checkpoints").glob("*.json"))


def _manifest() -> dict[str, Any]:
    """The code location's dbt manifest (parsed if missing or stale): GX needs the schema of each model."""
    from orchestration.core.manifest import prepare_manifest, read_manifest

    return read_manifest(prepare_manifest().parent)


def mart_relations(manifest: dict[str, Any] | None = None) -> dict[str, tuple[str, str]]:
    """(schema, table) of every dbt model, by model name, as dbt builds them for the current target."""
    manifest = manifest if manifest is not None else _manifest()
    return {
        n["name"]: (n["schema"], n.get("alias") or n["name"])
        for n in manifest.get("nodes", {}).values()
        if n["resource_type"] == "model"
    }


def runtime_environment(conn: Connection | None = None, manifest: dict[str, Any] | None = None) -> dict[str, str]:
    """Substitution variables of great_expectations.yml: connection (search_path = dbt's schemas), folders."""
    conn = conn or connection()
    relations = mart_relations(manifest)
    # Model names are unique in dbt, so one search_path over every model schema finds each mart by name.
    schemas = sorted({schema for schema, _ in relations.values()})
    url = conn.url()
    if schemas:
        url += "?options=" + quote(f"-csearch_path={','.join(schemas)}", safe="")
    return {
        "FUNNEL_GX_WAREHOUSE_URL": url,
        "FUNNEL_GX_RESULTS_DIR": str(results_dir()) + "/",
        "FUNNEL_GX_DOCS_DIR": str(docs_dir()) + "/",
    }


def context(conn: Connection | None = None, manifest: dict[str, Any] | None = None) -> Any:
    """The GX file data context of the repo, connected to the project's warehouse."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx

    return gx.get_context(
        mode="file", project_root_dir=EXPECTATIONS_DIR, runtime_environment=runtime_environment(conn, manifest)
    )


def freshness_parameters(as_of: date) -> dict[str, str]:
    days = int(os.environ.get("FUNNEL_FRESHNESS_DAYS", "7"))
    newest = as_of - timedelta(days=days)
    return {"min_newest_day": newest.isoformat(), "min_newest_month": newest.replace(day=1).isoformat()}


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: str
    sample: list[Any] = field(default_factory=list)
    description: str | None = None
    error: str | None = None


@dataclass
class CheckpointOutcome:
    name: str
    as_of: date
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.failed if o.severity == "critical"]

    @property
    def success(self) -> bool:
        return not self.failed

    def markdown(self) -> str:
        """The failed expectations as a table for the Dagster UI (all of them when nothing failed)."""
        rows = self.failed or self.outcomes
        lines = ["| expectation | column | severity | ok | observed | sample |", "|---|---|---|---|---|---|"]
        for o in rows:
            sample = json.dumps(o.sample[:5], default=str) if o.sample else ""
            observed = (o.error or o.observed).replace("|", "\\|").replace("\n", " ")[:200]
            lines.append(
                f"| {o.description or o.expectation} | {o.column or ''} | {o.severity} | {'yes' if o.success else 'NO'}"
                f" | {observed} | {sample.replace('|', '/')[:300]} |"
            )
        return "\n".join(lines)


def _sample(result: dict[str, Any]) -> list[Any]:
    """Up to SAMPLE_ROWS offending rows or values, JSON-safe (dates and decimals as text)."""
    details = result.get("details") or {}
    rows: list[Any] = []
    if details.get("unexpected_rows"):
        rows = [dict(r) if hasattr(r, "keys") else r for r in details["unexpected_rows"][:SAMPLE_ROWS]]
    else:
        for key in ("partial_unexpected_counts", "partial_unexpected_list", "unexpected_list"):
            if result.get(key):
                rows = list(result[key])[:SAMPLE_ROWS]
                break
    return json.loads(json.dumps(rows, default=str))


def _error_message(info: Any) -> str | None:
    """The first exception GX caught while computing an expectation (e.g. a missing table), in one line."""
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception") or entry.get("exception_message"):
            message = str(entry.get("exception_message") or "").strip().splitlines()
            return (message[0] if message else "error")[:300]
    return None


def _outcome(res: Any) -> ExpectationOutcome:
    config = res.expectation_config
    result = dict(res.result or {})
    error = _error_message(res.exception_info)
    observed = result.get("observed_value")
    if observed is None and "unexpected_count" in result:
        observed = f"{result['unexpected_count']} unexpected of {result.get('element_count')}"
    severity = getattr(config, "severity", None)
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column") or (",".join(config.kwargs.get("column_list", [])) or None),
        severity=str(getattr(severity, "value", severity) or "critical"),
        success=bool(res.success),
        observed=str(observed),
        sample=_sample(result),
        description=getattr(config, "description", None),
        error=error,
    )


def run_checkpoint(name: str, as_of: date | None = None, *, ctx: Any = None) -> CheckpointOutcome:
    """Run one checkpoint and summarise each expectation's outcome (Data Docs: build_data_docs, once per run)."""
    from orchestration.core.manifest import yesterday

    as_of = as_of or yesterday()
    ctx = ctx or context()
    result = ctx.checkpoints.get(name).run(expectation_parameters=freshness_parameters(as_of))
    outcomes = [_outcome(res) for run in result.run_results.values() for res in run.results]
    return CheckpointOutcome(name, as_of, outcomes)


def run_all(as_of: date | None = None, names: list[str] | None = None) -> list[CheckpointOutcome]:
    """Every checkpoint (or those named) in one GX context, then the Data Docs site once."""
    ctx = context()
    outcomes = [run_checkpoint(name, as_of, ctx=ctx) for name in (names or checkpoint_names())]
    build_data_docs(ctx)
    return outcomes


def build_data_docs(ctx: Any = None) -> Path:
    """Rebuild the Data Docs site from the stored validation results; return its index.html.

    Once per run: a checkpoint action would rebuild the whole site after every checkpoint (most of a run's time).
    """
    (ctx or context()).build_data_docs()
    return docs_dir() / "index.html"


def scaffold_checkpoint(model: str) -> None:
    """Register a mart with GX once its suite `expectations/gx/expectations/<model>.json` is written:
    a table asset on the `warehouse` datasource, its validation definition and its checkpoint (Data Docs
    action). The mart must be built (GX checks that the table exists). Idempotent."""
    import great_expectations as gx

    ctx = context()
    try:
        source = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError):
        source = ctx.data_sources.add_postgres(DATASOURCE, connection_string="${FUNNEL_GX_WAREHOUSE_URL}")
    try:
        asset = source.get_asset(model)
    except LookupError:
        asset = source.add_table_asset(model, table_name=mart_relations()[model][1])
    try:
        batch = asset.get_batch_definition("whole_table")
    except KeyError:
        batch = asset.add_batch_definition_whole_table("whole_table")
    suite = ctx.suites.get(model)
    if (GX_DIR / "validation_definitions" / f"{model}.json").exists():
        ctx.validation_definitions.delete(model)  # re-created so it points at the suite as it is now
    validation = ctx.validation_definitions.add(gx.ValidationDefinition(name=model, data=batch, suite=suite))
    ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=model,
            validation_definitions=[validation],
            actions=[],  # Data Docs are built once per run (run_all, the Dagster step), not per checkpoint
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_ROWS},
        )
    )


if __name__ == "__main__":  # python -m orchestration.ops.gx scaffold <model> ...
    import sys

    if len(sys.argv) >= 3 and sys.argv[1] == "scaffold":
        for name in sys.argv[2:]:
            scaffold_checkpoint(name)
            print(f"registered {name}: expectations/gx/checkpoints/{name}.json")
    else:
        print("usage: python -m orchestration.ops.gx scaffold MODEL [MODEL ...]")
        sys.exit(2)
