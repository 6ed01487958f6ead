"""The layers of the dbt project, read from the real manifest (`dbt parse`, both sources on).

Marts read intermediate models, other marts and seeds, never staging or a source directly: a staging model
that changes shape then breaks one intermediate model, not a BI table. Every model's name says its layer
(the folder under models/ it lives in), so a name read in BI, a log or the lineage graph is enough to place it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestration.core.manifest import dbt_manifest
from orchestration.core.settings import Connection

# layer (first folder under models/) -> (name prefixes, name suffixes); a name must match one of either
LAYER_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "staging": (("stg_", "base_"), ()),
    "intermediate": (("int_",), ()),
    "marts": (("fct_", "dim_"), ("_daily", "_monthly")),
    "quality": ((), ("_exceptions",)),
    "privacy": (("privacy_",), ()),
    # MetricFlow's calendar, named as MetricFlow's docs name it
    "semantic": (("metricflow_time_spine",), ()),
}


@pytest.fixture(scope="module")
def manifest(server: Connection) -> Iterator[dict]:
    """The parsed project with every source switched on, so that no model is left out as disabled."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUNNEL_PIPEDRIVE_ENABLED", "true")
        mp.setenv("FUNNEL_FIELD_CRM_ENABLED", "true")
        yield dbt_manifest(["parse"], {}, server, None, None)


def _models(manifest: dict) -> list[dict]:
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) > 50, "the parse left models out"
    return models


def _layer(node: dict) -> str:
    return str(node["fqn"][1])


def test_every_model_lives_in_a_known_layer(manifest: dict) -> None:
    unknown = sorted(
        f"{n['name']} ({n['original_file_path']})" for n in _models(manifest) if _layer(n) not in LAYER_NAMES
    )
    assert unknown == [], f"models outside the known layers {sorted(LAYER_NAMES)}: {unknown}"


def test_every_model_name_carries_its_layer(manifest: dict) -> None:
    misnamed = []
    for node in _models(manifest):
        prefixes, suffixes = LAYER_NAMES.get(_layer(node), ((), ()))
        # str.startswith(()) is False: a layer with no prefixes is matched by its suffixes alone
        if not node["name"].startswith(prefixes) and not node["name"].endswith(suffixes):
            misnamed.append(f"{_layer(node)}/{node['name']}")
    assert misnamed == [], f"model names that do not say their layer: {misnamed}"


def test_marts_never_read_staging_or_sources(manifest: dict) -> None:
    """Direct parents only: a mart reaching staging through an intermediate model is the point. The models a keyed
    mart's feeds watch (config meta.keyed, macros/incremental_keys.sql) are the exception: a feed reads which keys
    a load touched (_load_id and a key column), not data."""
    layers = {n["unique_id"]: _layer(n) for n in _models(manifest)}
    marts = [n for n in _models(manifest) if layers[n["unique_id"]] == "marts"]
    assert len(marts) >= 15, "no marts found: the layer lookup is wrong"
    direct = []
    for node in marts:
        keyed = (node["config"].get("meta") or {}).get("keyed") or {}
        watched = set()
        for feed in [*keyed.get("changes", []), *keyed.get("events", []), *keyed.get("parents", [])]:
            watched.add(feed["model"])
            through = feed.get("through") or []
            watched.update(hop[0] for hop in ([through] if through and isinstance(through[0], str) else through))
        for parent in node["depends_on"]["nodes"]:
            if parent.split(".")[-1] in watched:
                continue
            if parent.startswith("source.") or layers.get(parent) == "staging":
                direct.append(f"{node['name']} -> {parent}")
    assert direct == [], f"marts that read staging or a source directly: {direct}"


def test_every_large_keyed_model_is_indexed_on_its_key(manifest: dict) -> None:
    """A keyed run deletes its affected keys, its children read theirs and its tests check them: without an index
    on the key each is a scan of the whole table (at M a model of 500k quotes took 121 s for a day, when the keys
    were an array compared with every row). The monthly cohorts and the name variants are small."""
    small = {"funnel_cohort_monthly", "lead_cohort_monthly", "int_field_service__name_variants"}
    unindexed = []
    for node in _models(manifest):
        keyed = (node["config"].get("meta") or {}).get("keyed")
        if keyed and node["name"] not in small:
            leading = [index["columns"][0] for index in node["config"].get("indexes") or [] if index["columns"]]
            if keyed["key"] not in leading:
                unindexed.append(f"{node['name']} ({keyed['key']})")
    assert unindexed == []


def test_every_model_key_is_guarded_by_a_constraint_or_tests(manifest: dict) -> None:
    """A contracted mart's primary key is a `primary_key` constraint that PostgreSQL enforces on every insert, so no
    data test repeats it; every other model keeps a `unique_not_null` (or `unique_combination`) test on its grain.
    Base models hold one row per raw row: `funnel reconcile` counts them against raw (staged + duplicate + rejected)."""
    tested = {
        node["attached_node"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name") in ("unique_not_null", "unique", "unique_combination")
    }

    def enforced_key(node: dict) -> bool:
        constraints = [*(node.get("constraints") or [])]
        constraints += [c for column in node["columns"].values() for c in column.get("constraints") or []]
        contract = node["config"].get("contract") or {}
        return bool(contract.get("enforced")) and any(c["type"] == "primary_key" for c in constraints)

    unguarded = [
        node["name"]
        for node in _models(manifest)
        if node["unique_id"] not in tested and not enforced_key(node) and not node["name"].startswith("base_")
    ]
    assert unguarded == [], f"models whose key nothing checks: {unguarded}"
