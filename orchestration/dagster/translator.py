"""How dbt resources are named in Dagster: keys `<layer>/<area>/<model>` (the dbt folder path), groups
`<layer>_<area>`, dbt sources resolved to the raw assets, and a description for every dbt test check.

Kept apart from the asset definitions (orchestration.dagster.assets), which parse the project when imported, so that
a CLI build can name what it built (orchestration.dagster.report) without that parse.
"""

from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.core.contracts import SOURCES, raw_schema, source_tables


def raw_asset_key(source: str, table: str) -> AssetKey:
    return AssetKey(["raw", source, table])


def describe_dbt_test(test: Mapping[str, Any]) -> str:
    """What a dbt test checks, in words, when its YAML gives no description."""
    if test.get("description"):
        return str(test["description"])
    metadata = test.get("test_metadata") or {}
    name = metadata.get("name")
    if not name:  # a singular test: its file's leading comment says why it exists
        return f"dbt singular test `{test['name']}` ({test.get('original_file_path', '')})"
    column = test.get("column_name")
    arguments = {k: v for k, v in (metadata.get("kwargs") or {}).items() if k not in ("model", "column_name")}
    described = ", ".join(f"{k}={v}" for k, v in arguments.items() if not str(v).startswith("{{"))
    return f"dbt test `{name}`" + (f" on `{column}`" if column else "") + (f" ({described})" if described else "")


class FunnelTranslator(DagsterDbtTranslator):
    """Keys and groups from the dbt folder path; sources resolve to the raw assets."""

    def __init__(self, code_references: bool = True) -> None:
        """`code_references=False` for naming assets without a DbtProject (a CLI build's record)."""
        super().__init__(
            DagsterDbtTranslatorSettings(
                enable_asset_checks=True,
                enable_source_tests_as_checks=True,  # checks on the raw assets, not observations
                enable_code_references=code_references,
            )
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        kind = dbt_resource_props["resource_type"]
        if kind == "source":
            meta = {**dbt_resource_props.get("config", {}).get("meta", {}), **dbt_resource_props.get("meta", {})}
            if meta.get("dagster", {}).get("asset_key"):
                return AssetKey(meta["dagster"]["asset_key"])
            schema = str(dbt_resource_props.get("schema", ""))
            table = str(dbt_resource_props.get("name", ""))
            for source in SOURCES:
                if schema == raw_schema(source) and table in {t.name for t in source_tables(source)}:
                    return raw_asset_key(source, table)
            return super().get_asset_key(dbt_resource_props)
        if kind == "model":
            return AssetKey([*dbt_resource_props["fqn"][1:-1], dbt_resource_props["name"]])
        if kind in ("seed", "snapshot"):
            return AssetKey([f"{kind}s", *dbt_resource_props["fqn"][1:-1], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """`<layer>_<area>` for models (staging_pipedrive, marts_funnel), `seeds` / `snapshots` otherwise."""
        kind = dbt_resource_props["resource_type"]
        folders = list(dbt_resource_props.get("fqn", [])[1:-1])[:2]
        if kind == "model" and folders:
            return "_".join(folders)
        return f"{kind}s"

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetCheckSpec | None:
        """dagster-dbt's check, described, and not blocking when it reads other assets as well: inside one
        `dbt build` dbt itself skips what lies below a failed test, and a blocking check over several assets of
        one step would make Dagster split that step (one dbt invocation) into several. Reads of raw tables are
        not listed as its dependencies: the loader's job lands them, and a dbt run never rebuilds them."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=spec.description or describe_dbt_test(manifest["nodes"][unique_id]),
            additional_deps=[d for d in spec.additional_deps if d.asset_key.path[0] != "raw"],
            blocking=spec.blocking and not spec.additional_deps,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            partitions_def=spec.partitions_def,
        )
