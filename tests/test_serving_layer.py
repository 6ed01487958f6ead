"""The serving layer on a built warehouse: read-only roles and grants, enforced contracts, KPI answers of the
semantic layer against direct SQL on the marts, export round trips, and the docs site.

One small warehouse (generated Pipedrive + field-service data) is built once for the module; dbt writes its
artifacts to a folder of the module so the semantic manifest queried is the one of this build.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from export_checks import checksum, reimport
from psycopg import sql

from orchestration.core.dbt import dbt_env, dbt_executable
from orchestration.core.errors import FunnelError
from orchestration.core.settings import REPO_ROOT
from orchestration.serving import exports, kpis, roles

SOURCE_DT = "2025-03-31"
MARTS, INTERMEDIATE, STAGING = "dev_marts", "dev_intermediate", "dev_staging"
QUALITY = "dev_quality"
PII_MODEL = "int_field_service__customer_contacts"


@pytest.fixture(scope="module")
def passwords() -> Iterator[dict[str, str]]:
    """Role passwords: the ones in the environment, else fresh ones (roles are server-wide: this resets them)."""
    values = {role.name: os.environ.get(role.password_env) or secrets.token_urlsafe(12) for role in roles.ROLES}
    with pytest.MonkeyPatch.context() as mp:
        for role in roles.ROLES:
            mp.setenv(role.password_env, values[role.name])
        yield values


@pytest.fixture(scope="module")
def built(wh, passwords, tmp_path_factory) -> Path:
    """Roles created, small generated exports of both sources loaded, everything built (no tests)."""
    from orchestration.ingest.generators.field_crm import generate_field_crm
    from orchestration.ingest.generators.pipedrive import generate_pipedrive

    data = tmp_path_factory.mktemp("serving_data")
    generate_pipedrive(data / "pipedrive", deals=300, seed=7, end=date(2025, 3, 31), days=300)
    generate_field_crm(data / "field_crm", leads=600, seed=7, end=date(2025, 3, 31), days=300)
    wh.load(data / "pipedrive", "pipedrive")
    wh.load(data / "field_crm", "field_crm")
    roles.create_roles(wh.conn)
    target = tmp_path_factory.mktemp("serving_target")
    # seeds and models in one dbt invocation (dbt's start-up is most of the time at this size); no data tests
    wh.dbt(
        "build",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        "--target-path",
        str(target),
        variables={"source_dt": SOURCE_DT},
    )
    return target


@pytest.fixture(scope="module")
def manifest(built: Path) -> dict[str, Any]:
    return json.loads((built / "manifest.json").read_text())


@pytest.fixture(scope="module")
def semantic(built: Path) -> dict[str, Any]:
    return kpis.semantic_manifest(built, parse=False)


def connect_as(wh, role: str, password: str) -> psycopg.Connection:
    conn = wh.conn
    return psycopg.connect(
        host=conn.host, port=conn.port, dbname=conn.dbname, user=role, password=password, autocommit=True
    )


def marts_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["package_name"] == "funnel" and n["fqn"][1] == "marts"
    ]


# --- access -----------------------------------------------------------------------------------------------------


def test_roles_are_idempotent_read_only_and_can_log_in(built, wh, passwords) -> None:
    again = roles.create_roles(wh.conn)
    assert [(r.name, r.created, r.can_login) for r in again] == [("bi_reader", False, True), ("analyst", False, True)]
    settings = wh.query(
        "select r.rolname, s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole"
        " where r.rolname in ('bi_reader', 'analyst')"
    )
    assert {name for name, config in settings if "default_transaction_read_only=on" in config} == {
        "bi_reader",
        "analyst",
    }
    flags = wh.query("select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = 'bi_reader'")
    assert flags == [(False, False, False)]


def test_bi_reader_reads_marts_and_nothing_else(built, wh, passwords) -> None:
    with connect_as(wh, "bi_reader", passwords["bi_reader"]) as db:
        for mart in ("rep_sales_funnel_monthly", "lead_funnel_daily", "metrics_daily", "fct_jobs"):
            assert db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(MARTS, mart))).fetchone()
        denied = [
            ("raw_pipedrive", "deal_changes"),
            ("raw_field_crm", "leads"),
            (STAGING, "stg_field_crm__leads"),
            (STAGING, "stg_pipedrive__users"),
            (INTERMEDIATE, "int_deals_consolidated"),
            (INTERMEDIATE, PII_MODEL),
            (QUALITY, "field_service_exceptions"),  # work lists for analysts, not BI
            (QUALITY, "funnel_step_exceptions"),
        ]
        for schema, table in denied:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(sql.SQL("select * from {} limit 1").format(sql.Identifier(schema, table)))


def test_bi_reader_cannot_write_anything(built, wh, passwords) -> None:
    mart = sql.Identifier(MARTS, "fct_jobs")
    writes: list[sql.SQL | sql.Composed] = [
        sql.SQL("insert into {} select * from {} limit 1").format(mart, mart),
        sql.SQL("update {} set region = region").format(mart),
        sql.SQL("delete from {}").format(mart),
        sql.SQL("truncate {}").format(mart),
        sql.SQL("drop table {}").format(mart),
        sql.SQL("alter table {} add column x int").format(mart),
        sql.SQL("create table {} (x int)").format(sql.Identifier(MARTS, "bi_reader_was_here")),
        sql.SQL("create table public.bi_reader_was_here (x int)"),
        sql.SQL("create schema bi_reader_was_here"),
    ]
    with connect_as(wh, "bi_reader", passwords["bi_reader"]) as db:
        assert db.execute("show default_transaction_read_only").fetchone() == ("on",)
        # privileges, not only the read-only default, stop writes: lift the default and try again
        db.execute("set default_transaction_read_only = off")
        for statement in writes:
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)) as err:
                db.execute(statement)
            assert isinstance(err.value, psycopg.errors.InsufficientPrivilege), statement.as_string(db)
    assert wh.scalar(sql.SQL("select count(*) from {}").format(mart).as_string()) > 0


def test_analyst_reads_intermediate_quality_and_marts_only(built, wh, passwords) -> None:
    with connect_as(wh, "analyst", passwords["analyst"]) as db:
        assert db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(MARTS, "fct_jobs"))).fetchone()
        for model in ("field_service_exceptions", "funnel_step_exceptions"):
            assert db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(QUALITY, model))).fetchone()
        for model in ("int_deals_consolidated", "int_field_service__quotes_linked"):
            assert db.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(INTERMEDIATE, model))).fetchone()
        for schema, table in [
            ("raw_pipedrive", "users"),
            (STAGING, "stg_field_crm__leads"),
            (STAGING, "stg_pipedrive__users"),
            (INTERMEDIATE, PII_MODEL),
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(sql.SQL("select * from {} limit 1").format(sql.Identifier(schema, table)))
        db.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(sql.SQL("create table {} (x int)").format(sql.Identifier(INTERMEDIATE, "analyst_was_here")))


def test_grants_come_from_dbt_config(manifest) -> None:
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != "funnel":
            continue
        layer, grantees = node["fqn"][1], set(node["config"].get("grants", {}).get("select", []))
        if layer in ("marts", "semantic"):
            assert grantees == {"bi_reader", "analyst"}, node["name"]
        elif layer in ("intermediate", "quality") and node["name"] != PII_MODEL:
            assert grantees == {"analyst"}, node["name"]
        else:
            assert not grantees, f"{node['name']} ({layer}) must not be granted to anyone"


def test_grants_are_reapplied_to_built_relations(built, wh) -> None:
    """Roles created after a build: `funnel db roles --apply` grants on what exists without rebuilding."""
    wh.query(f"revoke select on {MARTS}.metrics_daily from bi_reader")
    assert not wh.scalar(f"select has_table_privilege('bi_reader', '{MARTS}.metrics_daily', 'select')")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_TARGET_PATH", str(built))
        roles.apply_grants(conn=wh.conn, variables={"source_dt": SOURCE_DT})  # same vars: dbt's partial parse
    assert wh.scalar(f"select has_table_privilege('bi_reader', '{MARTS}.metrics_daily', 'select')")


# --- contracts --------------------------------------------------------------------------------------------------


def test_every_mart_has_an_enforced_contract(manifest) -> None:
    marts = marts_of(manifest)
    assert len(marts) >= 15
    for node in marts:
        assert node["config"]["contract"]["enforced"], f"{node['name']} has no enforced contract"
        assert node["columns"], node["name"]
        untyped = [c for c, col in node["columns"].items() if not col.get("data_type")]
        assert not untyped, f"{node['name']}: columns without data_type {untyped}"


def test_a_contract_break_fails_the_build_with_a_clear_message(built, wh, manifest, tmp_path) -> None:
    """A copy of the project whose contract for one mart says a column is boolean: dbt refuses to build it."""
    node = next(n for n in marts_of(manifest) if n["name"] == "fct_jobs")
    column = "revenue_amount"
    for part in ("dbt_project", "macros", "seeds"):
        shutil.copytree(
            REPO_ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
        )
    shutil.copy(REPO_ROOT / "profiles.example.yml", tmp_path / "dbt_project" / "profiles.yml")
    yml = tmp_path / "dbt_project" / node["patch_path"].split("://", 1)[1]
    spec = yaml.safe_load(yml.read_text())
    model = next(m for m in spec["models"] if m["name"] == node["name"])
    col = next(c for c in model["columns"] if c["name"] == column)
    assert col["data_type"] != "boolean"
    col["data_type"] = "boolean"
    yml.write_text(yaml.safe_dump(spec, sort_keys=False))
    project = tmp_path / "dbt_project"
    result = subprocess.run(
        [
            dbt_executable(),
            "run",
            "--select",
            node["name"],
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp_path / "target"),
            "--vars",
            json.dumps({"source_dt": SOURCE_DT}),
        ],
        env={**dbt_env(wh.conn, "dev", "dev"), "DBT_LOG_PATH": str(tmp_path / "logs")},
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "This model has an enforced contract that failed." in output, output[-3000:]
    assert column in output and "boolean" in output.lower(), output[-3000:]
    # the real mart is untouched
    assert wh.scalar(f"select count(*) from {MARTS}.fct_jobs") > 0


def test_marts_have_primary_keys_and_indexed_date_columns(built, wh, manifest) -> None:
    """A primary key wherever the grain has no nullable column; every mart's first date column leads an index."""
    no_key = {"activity_volume_daily"}  # its grain includes owner_user_id, which may be null
    leading = wh.query(
        """
        select c.relname, a.attname, i.indisprimary
        from pg_index i
        join pg_class c on c.oid = i.indrelid
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
        where n.nspname = %s
        """,
        (MARTS,),
    )
    with_key = {table for table, _, primary in leading if primary}
    indexed = {(table, column) for table, column, _ in leading}
    date_columns = dict(
        wh.query(
            "select distinct on (table_name) table_name, column_name from information_schema.columns"
            " where table_schema = %s and data_type = 'date' order by table_name, ordinal_position",
            (MARTS,),
        )
    )
    for node in marts_of(manifest):
        name = node["name"]
        if name not in no_key:
            assert name in with_key, f"{name} has no primary key"
        if name in date_columns:
            assert (name, date_columns[name]) in indexed, f"{name}.{date_columns[name]} leads no index"


# --- semantic layer ---------------------------------------------------------------------------------------------


def test_kpi_registry(semantic) -> None:
    catalogue = kpis.list_kpis(manifest=semantic)
    assert len(catalogue) >= 40
    modules = {m for k in catalogue for m in k.modules}
    assert {"BUS_DEV", "INSIDE_SALES", "SALES_MGMT", "CUSTOMER", "FINANCE"} <= modules
    for kpi in catalogue:
        assert kpi.modules and kpi.object_model, kpi.name
        assert kpi.description and "{{" not in kpi.description, f"{kpi.name}: definition docs block not rendered"
    customer = kpis.list_kpis("customer", manifest=semantic)
    assert {"repeat_customer_rate", "customer_lifetime_value", "new_customers"} <= {k.name for k in customer}
    assert all("CUSTOMER" in k.modules for k in customer)
    with pytest.raises(FunnelError, match="no KPI serves module"):
        kpis.list_kpis("ASTROLOGY", manifest=semantic)
    for required in (
        "lead_to_booking_rate",
        "win_rate_by_count",
        "win_rate_by_value",
        "avg_booking_value",
        "avg_sales_cycle_days",
        "pipeline_value",
        "weighted_pipeline_value",
        "pipeline_velocity",
        "stage_conversion_rate",
        "activities_per_rep",
        "call_connect_rate",
        "revenue_per_job",
        "average_transaction_value",
        "new_customers",
        "repeat_customer_rate",
        "customer_lifetime_value",
        "revenue_per_branch",
        "revenue_per_sales_person",
        "lost_rate",
        "bad_leads_per_lead_flow_rate",
    ):
        assert required in {k.name for k in catalogue}, required


def answer(semantic, wh, kpi: str, by: list[str], where: list[str] | None = None) -> dict[tuple[Any, ...], Any]:
    result = kpis.query_kpi(kpi, by, where or [], manifest=semantic, conn=wh.conn)
    assert result.columns[-1] == kpi
    return {tuple(row[:-1]): row[-1] for row in result.rows}


def direct(wh, statement: str) -> dict[tuple[Any, ...], Any]:
    return {tuple(row[:-1]): row[-1] for row in wh.query(statement)}


def same(left: dict[tuple[Any, ...], Any], right: dict[tuple[Any, ...], Any]) -> None:
    assert left.keys() == right.keys()
    for key, value in left.items():
        expected = right[key]
        if value is None or expected is None:
            assert value is None and expected is None, key
        else:
            assert float(value) == pytest.approx(float(expected), rel=1e-9, abs=1e-9), key


def test_kpis_equal_direct_sql_on_the_marts(built, wh, semantic) -> None:
    same(
        answer(semantic, wh, "leads", ["month"]),
        direct(
            wh,
            f"select cast(date_trunc('month', funnel_date) as date), sum(leads_count)"
            f" from {MARTS}.lead_funnel_daily group by 1",
        ),
    )
    same(
        answer(semantic, wh, "bad_leads_per_lead_flow_rate", ["lead_source__lead_source_name"]),
        direct(
            wh,
            f"select s.lead_source_name, sum(f.bad_count)::float / nullif(sum(f.leads_count), 0)"
            f" from {MARTS}.lead_funnel_daily f left join {MARTS}.dim_lead_sources s using (lead_source_key)"
            f" group by 1",
        ),
    )
    same(
        answer(semantic, wh, "revenue", ["year", "branch__branch_name"], ["region = 'eu'"]),
        direct(
            wh,
            f"select cast(date_trunc('year', j.job_date) as date), b.branch_name, sum(j.recognised_revenue)"
            f" from {MARTS}.fct_jobs j left join {MARTS}.dim_branches b using (branch_key)"
            f" where j.region = 'eu' group by 1, 2",
        ),
    )
    same(
        answer(semantic, wh, "average_transaction_value", ["quarter"]),
        direct(
            wh,
            f"select cast(date_trunc('quarter', metric_date) as date),"
            f" sum(total_sales)::float / nullif(sum(transactions_count), 0) from {MARTS}.metrics_daily group by 1",
        ),
    )
    same(
        answer(semantic, wh, "funnel_step_deals", ["month", "funnel_step"]),
        direct(wh, f"select month, funnel_step, sum(deals_count) from {MARTS}.rep_sales_funnel_monthly group by 1, 2"),
    )
    same(
        answer(semantic, wh, "win_rate_by_count", ["month"]),
        direct(
            wh,
            f"select cast(date_trunc('month', date_day) as date),"
            f" sum(won_count)::float / nullif(sum(won_count + lost_count), 0)"
            f" from {MARTS}.pipeline_velocity_daily group by 1",
        ),
    )
    same(
        answer(semantic, wh, "call_connect_rate", ["sales_person__sales_person_name"]),
        direct(
            wh,
            f"select p.sales_person_name, sum(s.calls_answered)::float / nullif(sum(s.calls_made), 0)"
            f" from {MARTS}.sales_performance_monthly s left join {MARTS}.dim_sales_people p using (sales_person_key)"
            f" group by 1",
        ),
    )
    same(
        answer(semantic, wh, "open_deals", ["month"]),
        direct(
            wh,
            f"select cast(date_trunc('month', date_day) as date), sum(open_deals_count)"
            f" from {MARTS}.pipeline_velocity_daily"
            f" where date_day in (select max(date_day) from {MARTS}.pipeline_velocity_daily"
            f"                    group by date_trunc('month', date_day))"
            f" group by 1",
        ),
    )


def test_every_kpi_answers(built, wh, semantic) -> None:
    for metric in semantic["metrics"]:
        result = kpis.query_kpi(metric["name"], ["month"], manifest=semantic, conn=wh.conn)
        assert result.rows, metric["name"]


def test_kpi_query_errors_are_clear(built, wh, semantic) -> None:
    with pytest.raises(FunnelError, match="unknown KPI 'revenu'"):
        kpis.query_kpi("revenu", ["month"], manifest=semantic, conn=wh.conn)
    with pytest.raises(FunnelError, match="MetricFlow cannot answer revenue"):
        kpis.query_kpi("revenue", ["no_such__dimension"], manifest=semantic, conn=wh.conn)


def test_kpi_cli_prints_a_rounded_table_csv_for_machines_and_exit_6_for_no_rows(built, wh) -> None:
    env = {**os.environ, "FUNNEL_DB_NAME": wh.conn.dbname, "DBT_TARGET_PATH": str(built)}
    base = [sys.executable, "-m", "orchestration.cli", "kpi", "query", "call_connect_rate", "--by", "year"]
    table = subprocess.run(base, env=env, capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    header, rule, *rows = table.stdout.splitlines()
    assert header.split() == ["metric_time__year", "call_connect_rate"] and set(rule) <= {"-", " "}
    assert rows and all(row.split()[-1].endswith("%") for row in rows)  # a rate, shown as a percentage
    machine = subprocess.run([*base, "--format", "csv"], env=env, capture_output=True, text=True, check=False)
    first = machine.stdout.splitlines()[1].split(",")
    assert 0 <= float(first[1]) <= 1  # csv keeps the exact value
    empty = subprocess.run(
        [*base, "--where", "branch__branch_name = 'Atlantis'"], env=env, capture_output=True, text=True, check=False
    )
    assert empty.returncode == 6, empty.stdout + empty.stderr
    assert "warning: no rows for these filters (exit code 6)" in empty.stderr


# --- exports ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_round_trips_with_filters(built, wh, tmp_path, fmt) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    seen: list[int] = []
    result = exports.export_model(
        "fct_jobs",
        fmt,
        "2024-07-01",
        "2024-12-31",
        "eu",
        tmp_path,
        seen.append,
        conn=wh.conn,
        schema=MARTS,
        batch_rows=50,
    )
    assert result.path == tmp_path / f"fct_jobs{exports.FORMATS[fmt]}"
    assert result.filters == {"date_column": "job_date", "start": "2024-07-01", "end": "2024-12-31", "region": "eu"}
    where = sql.SQL("job_date >= '2024-07-01' and job_date < '2025-01-01' and region = 'eu'")
    expected = checksum(wh, sql.Identifier(MARTS, "fct_jobs"), where)
    assert expected[0] > 50, "the filter should keep several batches of rows"
    assert result.rows == expected[0] and seen[-1] == expected[0]
    assert reimport(wh, sql.Identifier(MARTS, "fct_jobs"), fmt, result.path) == expected
    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == result.sha256
    again = exports.export_model(
        "fct_jobs",
        fmt,
        "2024-07-01",
        "2024-12-31",
        "eu",
        tmp_path / "again",
        conn=wh.conn,
        schema=MARTS,
        batch_rows=50,
    )
    assert again.sha256 == result.sha256, "same data, same file"


def test_export_of_a_mart_with_every_type(built, wh, tmp_path) -> None:
    """Timestamps, booleans, numerics without precision, nulls: a whole mart, unfiltered, in all formats."""
    expected = checksum(wh, sql.Identifier(MARTS, "fct_deal_stage_transitions"))
    for fmt in ("csv", "json", "parquet"):
        result = exports.export_model("fct_deal_stage_transitions", fmt, out=tmp_path, conn=wh.conn, schema=MARTS)
        assert reimport(wh, sql.Identifier(MARTS, "fct_deal_stage_transitions"), fmt, result.path) == expected, fmt
    with (tmp_path / "fct_deal_stage_transitions.csv").open(newline="") as fh:
        header = next(csv.reader(fh))
    assert header[0] == "deal_stage_transition_id"


def test_export_streams_with_bounded_memory(built, wh, tmp_path) -> None:
    rows = 200_000
    wh.query("create schema if not exists export_probe")
    wh.query(
        "create table export_probe.big as select g as id, date '2024-01-01' + (g %% 365) as event_date,"
        " repeat('x', 60) || g as label, (g * 1.25)::numeric(12, 2) as amount from generate_series(1, %s) g",
        (rows,),
    )
    for fmt in ("json", "parquet"):
        tracemalloc.start()
        result = exports.export_model("big", fmt, out=tmp_path, conn=wh.conn, schema="export_probe")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.rows == rows
        assert peak < 40 * 2**20, f"{fmt}: peak {peak / 2**20:.0f} MiB"
        if fmt == "json":
            assert result.path.stat().st_size > 2 * peak, "the file must be larger than what was held in memory"


def test_export_refuses_bad_input(built, wh, tmp_path) -> None:
    cases = [
        (dict(model="fct_jobs", fmt="xlsx"), "unknown export format 'xlsx'"),
        (dict(model="fct_jobs; drop table x", fmt="csv"), "is not a model name"),
        (dict(model="stg_field_crm__leads", fmt="csv"), "no mart named 'stg_field_crm__leads'"),
        (dict(model="fct_jobs", fmt="csv", start="2024-02-30"), "start='2024-02-30' is not a date"),
        (dict(model="fct_jobs", fmt="csv", start="2024-03-01", end="2024-02-01"), "is after end"),
        (dict(model="metrics_daily", fmt="csv", region="eu"), "metrics_daily has no region column"),
    ]
    for kwargs, message in cases:
        with pytest.raises(FunnelError, match=message.replace("(", r"\(")):
            exports.export_model(**kwargs, out=tmp_path, conn=wh.conn, schema=MARTS)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir()), "a refused export leaves no file behind"


# --- docs site --------------------------------------------------------------------------------------------------


def test_docs_site_shows_overview_kpis_exposures_and_lineage(built, wh) -> None:
    # --no-compile: the lineage and docs come from the manifest; compiling every node again only costs time here
    wh.dbt(
        "docs", "generate", "--static", "--no-compile", "--target-path", str(built), variables={"source_dt": SOURCE_DT}
    )
    manifest = json.loads((built / "manifest.json").read_text())
    catalog = json.loads((built / "catalog.json").read_text())
    overview = manifest["docs"]["doc.funnel.__overview__"]["block_contents"]
    for words in ("The layers", "Incremental windows", "backfill_period", "bi_reader"):
        assert words in overview
    assert "model.funnel.rep_sales_funnel_monthly" in catalog["nodes"]
    # every column of every built model and seed is described in its YAML (the docs site has no blank rows)
    undescribed = [
        f"{manifest['nodes'][uid]['name']}.{column}"
        for uid, node in catalog["nodes"].items()
        if uid in manifest["nodes"]
        for column in node["columns"]
        if not manifest["nodes"][uid]["columns"].get(column.lower(), {}).get("description", "").strip()
    ]
    assert not undescribed, undescribed
    assert {e.split(".")[-1] for e in manifest["exposures"]} >= {
        "funnel_monthly",
        "pipeline_velocity",
        "activity_volume",
        "lead_funnel",
        "daily_metrics",
    }
    # lineage: every exposure reaches raw sources through the marts
    parents = {**manifest["parent_map"]}
    for exposure in manifest["exposures"]:
        seen, todo = set(), [exposure]
        while todo:
            node = todo.pop()
            for parent in parents.get(node, []):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        assert any(p.startswith("source.funnel.") for p in seen), exposure
        assert any(".marts." in ".".join(manifest["nodes"][p]["fqn"]) for p in seen if p in manifest["nodes"])
    metrics = manifest["metrics"]
    assert metrics and all(m["description"] and "{{" not in m["description"] for m in metrics.values())
    html = (built / "static_index.html").read_text()
    assert "funnel: sales-funnel analytics on PostgreSQL" in html and "__overview__" in html
