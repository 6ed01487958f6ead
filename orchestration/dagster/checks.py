"""Asset checks beyond dbt's own tests (those come from dagster-dbt): the GX checkpoints, one per mart.

A checkpoint `expectations/gx/checkpoints/<model>.json` becomes the blocking check `gx_<model>` on that dbt
model's asset; all run in one step (`gx_checks`) that builds the GX context once. A check fails with ERROR
when a `critical` expectation fails (downstream assets do not run) and with WARN when only `warning` ones
(freshness) fail; its metadata lists the failed expectations with a sample of offending values/rows, and
links the Data Docs page.
"""

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from orchestration.dagster.partitions import key_range_vars, run_partition_range
from orchestration.ops import gx


def check_name(model: str) -> str:
    return f"gx_{model}"


def as_of_for_run(tags: Mapping[str, str]) -> date | None:
    """The reference date of the run that materialised the mart (its last partition); None = yesterday."""
    span = run_partition_range(tags)
    return date.fromisoformat(str(key_range_vars(*span)["source_dt"])) if span else None


def result_for(outcome: gx.CheckpointOutcome, key: AssetCheckKey | None = None) -> AssetCheckResult:
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
    return AssetCheckResult(
        passed=not failed,
        severity=severity,
        metadata=metadata,
        asset_key=key.asset_key if key else None,
        check_name=key.name if key else None,
    )


def gx_spec(model: str, asset_key: AssetKey) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=check_name(model),
        asset=asset_key,
        blocking=True,
        description=(
            f"Great Expectations checkpoint `{model}` (expectations/gx/checkpoints/{model}.json): row counts,"
            " value ranges, allowed sets, grain/grid completeness (critical, blocks downstream) and freshness"
            " (warning)."
        ),
        metadata={"suite": f"expectations/gx/expectations/{model}.json"},
    )


def build_gx_checks(model_keys: Mapping[str, AssetKey]) -> list[AssetChecksDefinition]:
    """One step for every checkpoint whose model is in the dbt project (others wait until their model exists):
    the checkpoints of a run share one GX context, built once (seconds), instead of one per check."""
    models = [name for name in gx.checkpoint_names() if name in model_keys]
    if not models:
        return []

    @multi_asset_check(specs=[gx_spec(m, model_keys[m]) for m in models], can_subset=True, name="gx_checks")
    def _gx_checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        from orchestration.dagster.assets import MANIFEST  # the manifest this code location loaded: no re-parse

        ctx = gx.context(manifest=MANIFEST)
        as_of = as_of_for_run(context.run.tags)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.name):
            model = key.name.removeprefix("gx_")
            outcome = gx.run_checkpoint(model, as_of, ctx=ctx)
            for failure in outcome.failed:
                context.log.warning(f"{model}: {failure.severity} {failure.expectation} {failure.column or ''} failed")
            yield result_for(outcome, key)
        gx.build_data_docs(ctx)

    return [_gx_checks]


def _model_keys() -> dict[str, AssetKey]:
    from orchestration.dagster.assets import MANIFEST, TRANSLATOR

    return {
        node["name"]: TRANSLATOR.get_asset_key(node)
        for node in MANIFEST.get("nodes", {}).values()
        if node["resource_type"] == "model"
    }


GX_CHECKS: list[AssetChecksDefinition] = build_gx_checks(_model_keys())
