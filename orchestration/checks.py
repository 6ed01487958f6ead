"""Asset checks beyond dbt's own tests (those come from dagster-dbt): the GX checkpoints, one per mart.

A checkpoint `expectations/gx/checkpoints/<model>.json` becomes the blocking check `gx_<model>` on that dbt
model's asset. It fails with ERROR when a `critical` expectation fails (downstream assets do not run) and
with WARN when only `warning` ones (freshness) fail; its metadata lists the failed expectations with a
sample of offending values/rows, and links the Data Docs page.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from orchestration import gx
from orchestration.partitions import key_range_vars, run_partition_range


def check_name(model: str) -> str:
    return f"gx_{model}"


def as_of_for_run(tags: Mapping[str, str]) -> date | None:
    """The reference date of the run that materialised the mart (its last partition); None = yesterday."""
    span = run_partition_range(tags)
    return date.fromisoformat(str(key_range_vars(*span)["source_dt"])) if span else None


def result_for(outcome: gx.CheckpointOutcome) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if outcome.critical_failures else AssetCheckSeverity.WARN
    failed = outcome.failed
    metadata: dict[str, Any] = {
        "checkpoint": outcome.name,
        "as_of": outcome.as_of.isoformat(),
        "expectations": len(outcome.outcomes),
        "failed": len(failed),
        "failed_expectations": MetadataValue.md(outcome.markdown()),
        "data_docs": MetadataValue.path(str(gx.docs_dir() / "index.html")),
    }
    if failed:
        first = failed[0]
        metadata["first_failure"] = f"{first.description or first.expectation} ({first.column or 'table'})"
        metadata["sample"] = MetadataValue.json({"expectation": first.expectation, "rows": first.sample[:10]})
    return AssetCheckResult(passed=not failed, severity=severity, metadata=metadata)


def build_gx_check(model: str, asset_key: AssetKey) -> AssetChecksDefinition:
    @asset_check(
        asset=asset_key,
        name=check_name(model),
        blocking=True,
        description=(
            f"Great Expectations checkpoint `{model}` (expectations/gx/checkpoints/{model}.json): row counts,"
            " value ranges, allowed sets, grain/grid completeness (critical, blocks downstream) and freshness"
            " (warning)."
        ),
        metadata={"suite": f"expectations/gx/expectations/{model}.json"},
    )
    def _gx_check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        from orchestration.assets import MANIFEST  # the manifest this code location loaded: no re-parse

        outcome = gx.run_checkpoint(model, as_of_for_run(context.run.tags), ctx=gx.context(manifest=MANIFEST))
        for failure in outcome.failed:
            context.log.warning(f"{model}: {failure.severity} {failure.expectation} {failure.column or ''} failed")
        return result_for(outcome)

    return _gx_check


def build_gx_checks(model_keys: Mapping[str, AssetKey]) -> list[AssetChecksDefinition]:
    """A check per checkpoint whose model is in the dbt project (others wait until their model exists)."""
    return [build_gx_check(name, model_keys[name]) for name in gx.checkpoint_names() if name in model_keys]


def _model_keys() -> dict[str, AssetKey]:
    from orchestration.assets import MANIFEST, TRANSLATOR

    return {
        node["name"]: TRANSLATOR.get_asset_key(node)
        for node in MANIFEST.get("nodes", {}).values()
        if node["resource_type"] == "model"
    }


GX_CHECKS: list[AssetChecksDefinition] = build_gx_checks(_model_keys())
