"""Privacy (issue 9) on generated data of both sources, end to end on a real warehouse.

A data subject is planted in a generated field-service export the way real exports spell people: two leads
(one with e-mail and international phone, one with only a national phone), a booking with the e-mail in
capitals, a job linked only by quote number, and a malformed line carrying the e-mail. Then:

- `forget --dry-run` changes nothing (checksums of every table); `forget --email` leaves zero hits of the
  e-mail, phone and name in every text column of every table in every schema, also after a full refresh and
  a backfill; lead counts and revenue are unchanged, one customer fewer, and reconcile passes;
- `purge --dry-run` changes nothing; `purge --as-of` leaves no row past its retention date in any layer
  (raw through privacy_raw_rows, every fact) and reconcile still passes;
- both are in the append-only audit log, which refuses updates and deletes, and names no identifier.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import Warehouse, make_warehouse

from orchestration.core.dbt import dbt_vars
from orchestration.ops.privacy import audit_rows, forget, purge
from orchestration.ops.reconcile import format_report, reconcile

SOURCE_DT = date(2025, 3, 31)
EMAIL = "Q.Vandermolen@Example.org"
NAME = "Quirinus Vandermolen"
PHONE_DIGITS = "309988776"  # "+49 30 9988776" and "030 998 8776" both contain it
PURGE_AS_OF = date(2025, 10, 1)  # past the 1-year retention of unassigned records for part of the history
NO_TESTS = ["--exclude", "resource_type:test", "resource_type:unit_test"]
SYSTEM_SCHEMAS = ["pg_catalog", "information_schema", "pg_toast"]


def _append_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(newline="") as fh:
        header = next(csv.reader(fh))
    with path.open("a", newline="") as fh:
        csv.DictWriter(fh, header).writerows(rows)


def plant_subject(folder: Path) -> None:
    with (folder / "leads.csv").open(newline="") as fh:
        template = next(csv.DictReader(fh))
    # a German branch, so the national phone of the second lead resolves to the first lead's e-mail
    lead = {**template, "customer_name": NAME, "status": "booked", "branch": "Berlin Mitte"}
    _append_rows(
        folder / "leads.csv",
        [
            {**lead, "lead_id": "L9000001", "quote_number": "Q9000001", "created_at": "2025-01-10",
             "customer_email": f" {EMAIL} ", "customer_phone": "+49 30 9988776"},
            {**lead, "lead_id": "L9000002", "quote_number": "Q9000002", "created_at": "02/01/2025",
             "customer_email": "", "customer_phone": "030 998 8776", "customer_name": NAME.upper()},
        ],
    )  # fmt: skip
    with (folder / "booked_opportunities.csv").open(newline="") as fh:
        booking = next(csv.DictReader(fh))
    _append_rows(
        folder / "booked_opportunities.csv",
        [{**booking, "opportunity_id": "OPP9000001", "quote_number": "Q9000001", "booked_at": "2025-01-20",
          "estimated_amount": "$2,500.00", "customer_email": EMAIL.upper()}],
    )  # fmt: skip
    with (folder / "jobs.csv").open(newline="") as fh:
        job = next(csv.DictReader(fh))
    _append_rows(
        folder / "jobs.csv",
        [{**job, "job_id": "J9000001", "quote_number": "Q9000001", "job_date": "2025-02-10", "status": "CLOSED",
          "revenue": "2400", "customer_email": ""}],
    )  # fmt: skip
    with (folder / "leads.csv").open("a") as fh:  # an unterminated quote: a malformed line with the e-mail
        fh.write(f'L9000003,"Q9000003,2025-01-11,new,web,x,y,{NAME},{EMAIL}\n')


def hits(wh: Warehouse) -> dict[str, int]:
    """Rows per column, in every table of every schema, that hold the subject's e-mail, name or phone digits."""
    columns = wh.query(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c"
        " join information_schema.tables as t using (table_schema, table_name)"
        " where c.table_schema <> all(%s) and c.table_schema not like 'pg_temp%%'"
        " and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')",
        (SYSTEM_SCHEMAS,),
    )
    found = {}
    for schema, table, column in columns:
        count = wh.scalar(
            f'select count(*) from "{schema}"."{table}" where "{column}"::text ilike any(%s)'
            f""" or regexp_replace("{column}"::text, '[^0-9]', '', 'g') like %s""",
            ([f"%{EMAIL}%", "%vandermolen%"], f"%{PHONE_DIGITS}%"),
        )
        if count:
            found[f"{schema}.{table}.{column}"] = count
    return found


def checksums(wh: Warehouse) -> dict[str, str]:
    tables = wh.query(
        "select schemaname, tablename from pg_tables where schemaname <> all(%s) order by 1, 2", (SYSTEM_SCHEMAS,)
    )
    return {
        f"{schema}.{table}": wh.scalar(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from \"{schema}\".\"{table}\" t"
        )
        for schema, table in tables
    }


def totals(wh: Warehouse) -> tuple[Any, ...]:
    return wh.query(
        "select (select sum(leads_count) from dev_marts.lead_funnel_daily),"
        " (select sum(recognised_revenue) from dev_marts.fct_jobs),"
        " (select count(*) from dev_marts.fct_lead_conversions),"
        " (select count(*) from dev_marts.dim_customers)"
    )[0]


def assert_reconciled(wh: Warehouse) -> None:
    report = reconcile(source_dt=SOURCE_DT.isoformat(), conn=wh.conn)
    assert report.ok, format_report(report)


@pytest.fixture(scope="module")
def built(server, tmp_path_factory):
    from orchestration.ingest.generators.field_crm import generate_field_crm
    from orchestration.ingest.generators.pipedrive import generate_pipedrive

    out = tmp_path_factory.mktemp("privacy")
    generate_pipedrive(out / "pd", deals=150, seed=9, end=SOURCE_DT, days=400)
    generate_field_crm(out / "fc", leads=250, seed=9, end=SOURCE_DT, days=400)
    plant_subject(out / "fc")
    for wh in make_warehouse(server, "privacy"):
        wh.load(out / "pd", "pipedrive")
        wh.load(out / "fc", "field_crm")
        wh.dbt("build", "--full-refresh", *NO_TESTS, variables=dbt_vars(SOURCE_DT))
        yield wh


def test_forget_leaves_no_trace_in_any_table_even_after_rebuilds(built: Warehouse) -> None:
    wh = built
    planted = hits(wh)
    assert {
        "raw_field_crm.leads.customer_name",
        "raw_field_crm.booked_opportunities.customer_email",
        "raw.load_rejects.raw_line",
        "dev_staging.base_field_crm__leads.customer_phone",
    } <= set(planted)
    subject_customers = wh.scalar(
        "select count(distinct customer_id) from dev_marts.fct_lead_conversions"
        " where lead_id in ('L9000001', 'L9000002')"
    )
    assert subject_customers == 1  # e-mail and phone-only lead resolve to one customer
    before, sums = checksums(wh), totals(wh)

    dry = forget("email", EMAIL.lower(), dry_run=True, source_dt=SOURCE_DT.isoformat())
    assert checksums(wh) == before
    assert dry.raw["raw_field_crm.leads"] == {"anonymise": 2} and dry.rejected_lines == 1
    assert dry.derived["dim_customers"] == 1

    done = forget("email", f"  {EMAIL} ", source_dt=SOURCE_DT.isoformat())
    assert done.raw == dry.raw and done.rejected_lines == 1
    assert hits(wh) == {}
    after = totals(wh)
    assert after[:3] == sums[:3]  # leads, revenue and lifecycle events are still counted, anonymously
    assert after[3] == sums[3] - 1
    assert_reconciled(wh)

    # rebuilt from raw, whole and then incrementally: the subject (field CRM data only) does not come back
    wh.dbt("build", "--full-refresh", "--select", "source:field_crm+", *NO_TESTS, variables=dbt_vars(SOURCE_DT))
    incremental = "source:field_crm+,config.materialized:incremental"
    wh.dbt("build", "--select", incremental, *NO_TESTS, variables=dbt_vars(SOURCE_DT, 90))
    assert hits(wh) == {}
    assert totals(wh) == after

    # the same person re-landed by a later export: staging blanks them again, only raw keeps the file as sent
    relanded = Path(wh.scalar("select file_path from raw.load_ledger where table_name = 'leads'")).parent
    with (relanded / "leads.csv").open(newline="") as fh:
        template = next(csv.DictReader(fh))
    (relanded / "leads__relanded.csv").write_text(",".join(template) + "\n")
    _append_rows(
        relanded / "leads__relanded.csv",
        [{**template, "lead_id": "L9000009", "quote_number": "Q9000009", "created_at": "2025-03-01",
          "branch": "Berlin Mitte", "customer_name": NAME, "customer_email": EMAIL, "customer_phone": "030 998 8776"}],
    )  # fmt: skip
    wh.load(relanded, "field_crm")
    wh.dbt("build", "--select", "source:field_crm.leads+", *NO_TESTS, variables=dbt_vars(SOURCE_DT))
    assert set(hits(wh)) == {f"raw_field_crm.leads.{c}" for c in ("customer_name", "customer_email", "customer_phone")}
    assert wh.scalar("select count(*) from dev_marts.fct_lead_conversions where lead_id = 'L9000009'") >= 1


def test_purge_leaves_nothing_past_retention_in_any_layer(built: Warehouse) -> None:
    wh = built
    relations = wh.query(
        "select table_schema, table_name from information_schema.columns"
        " where column_name = 'data_retention_date' and table_schema <> all(%s)",
        (SYSTEM_SCHEMAS,),
    )
    assert {("dev_intermediate", "privacy_raw_rows"), ("dev_marts", "fct_jobs")} <= set(relations)

    def expired() -> dict[str, int]:
        counts = {
            f"{s}.{t}": wh.scalar(f'select count(*) from "{s}"."{t}" where data_retention_date < %s', (PURGE_AS_OF,))
            for s, t in relations
        }
        return {name: n for name, n in counts.items() if n}

    old = expired()
    assert {"dev_intermediate.privacy_raw_rows", "dev_marts.fct_deal_stage_transitions"} <= set(old)
    raw_before = wh.scalar("select count(*) from raw_pipedrive.deal_changes")
    before = checksums(wh)
    dry = purge(PURGE_AS_OF, dry_run=True, source_dt=SOURCE_DT.isoformat())
    assert checksums(wh) == before
    assert dry.raw["raw_pipedrive.deal_changes"]["delete"] > 0

    done = purge(PURGE_AS_OF, source_dt=SOURCE_DT.isoformat())
    assert expired() == {}
    deleted = done.raw["raw_pipedrive.deal_changes"]["delete"]
    assert wh.scalar("select count(*) from raw_pipedrive.deal_changes") == raw_before - deleted
    assert wh.scalar("select count(*) from dev_marts.fct_deal_stage_transitions") > 0  # recent history stays
    assert_reconciled(wh)


def test_audit_is_append_only_and_names_no_identifier(built: Warehouse) -> None:
    wh = built
    rows = audit_rows()
    operations = [row[2] for row in rows]
    assert operations[:2] == ["purge", "forget"]
    assert all("vandermolen" not in str(row).lower() for row in rows)
    forget_row = rows[1]
    assert forget_row[6]["raw_field_crm.leads"] == {"anonymise": 2}
    for statement in ("update privacy.audit_log set total_rows = 0", "delete from privacy.audit_log",
                      "truncate privacy.audit_log cascade"):  # fmt: skip
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            wh.query(statement)
    env = {**os.environ, "FUNNEL_DB_NAME": wh.conn.dbname}
    shown = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "audit"], capture_output=True, text=True, env=env, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "forget" in shown.stdout and "purge" in shown.stdout and "sha256:" in shown.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "forget", "--email", "nobody", "--phone", "1"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "exactly one of" in bad.stderr and "Traceback" not in bad.stderr


def test_a_region_scoped_build_holds_exactly_the_records_of_its_regions(built: Warehouse) -> None:
    """var regions (funnel build --regions): the facts and marts of those regions only, equal to that slice of
    the all-region build, every data and unit test passing; a bad value is refused naming the var."""
    wh = built
    scope = ["eu", "unassigned"]  # generated Pipedrive deals have no assignment: all 'unassigned'
    wh.dbt("build", "--full-refresh", variables={**dbt_vars(SOURCE_DT), "regions": scope}, schema="eu")
    regional = wh.query(
        "select table_schema, table_name from information_schema.columns where column_name = 'region'"
        " and table_schema in ('eu_marts', 'eu_intermediate')"
        " and table_name not like 'dim_%' and table_name not like 'int_field_service__branch%'"  # reference data
    )
    assert len(regional) >= 10
    for schema, table in regional:
        seen = {row[0] for row in wh.query(f'select distinct region from "{schema}"."{table}"')}
        assert seen <= set(scope), f"{schema}.{table}: {seen}"
    for fact in ("fct_lead_conversions", "fct_jobs", "fct_booked_opportunities", "fct_activities",
                 "fct_deal_stage_transitions"):  # fmt: skip
        scoped = wh.scalar(f"select count(*) from eu_marts.{fact}")
        assert scoped > 0
        assert scoped == wh.scalar(f"select count(*) from dev_marts.{fact} where region = any(%s)", (scope,)), fact
    leads = "select sum(leads_count) from {}_marts.lead_funnel_daily"
    assert wh.scalar(leads.format("eu")) == wh.scalar(leads.format("dev") + " where region = any(%s)", (scope,))
    calls = "select sum(calls_made) from {}_marts.sales_performance_monthly"
    assert 0 < wh.scalar(calls.format("eu")) < wh.scalar(calls.format("dev"))  # uk and us branches are out
    refused = wh.dbt("compile", "--select", "fct_jobs", variables={"regions": "eu'; drop"}, expect_ok=False)
    assert "var regions=" in refused and "is invalid" in refused


def test_retention_follows_the_policy_precedence(built: Warehouse) -> None:
    """compliance_retention_date on the shipped seed (seeds/compliance/compliance_retention_policies.csv): the policy
    of (region, family), else (region, default), else (unassigned, family), else (unassigned, default). The days
    below are read off the seed by hand."""
    expected = {
        "activities": {"eu": 730, "uk": 730, "us": 2555, "row": 1825, "mars": 365, None: 365},
        "pipeline_events": {"eu": 1095, "uk": 1095, "us": 2555, "ch": 1095, "mars": 365, None: 365},
    }
    for family, days in expected.items():
        values = ", ".join(
            f"({'cast(null as text)' if region is None else repr(region)}, date '2024-01-01')" for region in days
        )
        inline = (
            f"select p.region, {{{{ compliance_retention_date('p.region', '{family}', 'p.event_date') }}}}"
            f" - p.event_date as days from (values {values}) as p (region, event_date)"
        )
        compiled = built.dbt("compile", "--quiet", "--inline", inline).strip()
        assert dict(built.query(compiled)) == days, (family, compiled)


def test_region_and_consent_take_the_first_subject_with_a_known_value(built: Warehouse) -> None:
    """compliance_region / compliance_consent over seed rows planted for this test: the first subject (deal, then
    owner) with a value wins; a region not in compliance_regions or of another source system counts as none; the
    latest consent wins (undated last, then by value); nothing known gives the defaults."""
    assignments = [
        ("pipedrive", "deal", "1", "uk"), ("pipedrive", "deal", "1", "eu"), ("pipedrive", "user", "7", "us"),
        ("pipedrive", "deal", "2", "atlantis"), ("field_crm", "deal", "3", "ch"),
    ]  # fmt: skip
    consents = [
        ("pipedrive", "deal", "1", "granted", "2024-01-01"), ("pipedrive", "deal", "1", "withdrawn", "2024-06-01"),
        ("pipedrive", "deal", "2", "granted", None), ("pipedrive", "deal", "2", "denied", "2023-01-01"),
        ("pipedrive", "deal", "5", "b", None), ("pipedrive", "deal", "5", "a", None),
        ("pipedrive", "user", "7", "granted", "2024-01-01"),
    ]  # fmt: skip
    expected = {  # (deal, owner) -> (region, consent)
        ("1", "7"): ("eu", "withdrawn"),
        ("2", "7"): ("us", "denied"),
        ("3", None): ("unassigned", "unknown"),
        (None, "7"): ("us", "granted"),
        ("5", None): ("unassigned", "a"),
    }
    subjects = "[['deal', 'p.deal_id'], ['user', 'p.owner_id']]"
    values = ", ".join(
        "(" + ", ".join("cast(null as text)" if v is None else repr(v) for v in key) + ")" for key in expected
    )
    inline = (
        f"select p.deal_id, p.owner_id, {{{{ compliance_region('pipedrive', {subjects}) }}}},"
        f" {{{{ compliance_consent('pipedrive', {subjects}) }}}} from (values {values}) as p (deal_id, owner_id)"
    )
    compiled = built.dbt("compile", "--quiet", "--inline", inline).strip()
    seeds = "dev_seeds"
    try:
        for assignment in assignments:
            built.query(f"insert into {seeds}.compliance_region_assignments values (%s, %s, %s, %s)", assignment)
        for consent in consents:
            built.query(f"insert into {seeds}.compliance_consents values (%s, %s, %s, %s, %s)", consent)
        assert {(d, o): (r, c) for d, o, r, c in built.query(compiled)} == expected, compiled
    finally:
        built.query(f"truncate {seeds}.compliance_region_assignments, {seeds}.compliance_consents")
