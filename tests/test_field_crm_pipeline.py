"""The field-service CRM flow (source field_crm) on generated data, end to end in one database.

Built once per module: generate (3,000 leads, seed 1), load, seeds and every model downstream of
staging.field_crm with a full refresh at D0. Then:
  * reconciliation: raw = staged + collapsed duplicates + rejected, row by row, for every file, checked
    independently in Python; planted garbage dates are rejected with a reason, planted garbage amounts keep
    their booking / job (staged, amount null) and are listed in the exceptions with the value;
  * name resolution: every raw spelling of a sales person, branch and lead source resolves to exactly one key,
    the generator's canonical one (its CANONICAL_* / *_VARIANTS constants), or is listed in the exceptions;
  * customers: every BOOKED/CLOSED job with a resolvable e-mail or phone belongs to exactly one customer;
  * incremental replay: daily runs D1..D7 (backfill 3, Europe/Berlin, across a month end and a DST change)
    equal a full refresh at D7 row for row for every incremental model; a rerun changes nothing;
  * a late file with an unknown spelling and status: listed in the exceptions, picked up by the next run.

dbt runs in-process (dbtRunner with a manifest parsed once): the replay needs a dozen runs with different vars,
and a subprocess per run would re-parse the whole project each time.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbt_helpers import InProcessDbt, assert_equal_to_snapshot, checksum, snapshot, write_csv

from orchestration.core.contracts import source_tables
from orchestration.ingest.generators import field_crm as generator
from orchestration.ingest.generators import field_crm_vocabulary as vocabulary

END = date(2025, 3, 31)
D0 = date(2025, 3, 26)
DAYS = [D0 + timedelta(days=n) for n in range(1, 8)]  # 27 Mar .. 2 Apr: DST (30 Mar) and a month end
D7 = DAYS[-1]
BACKFILL = 3
TIMEZONE = "Europe/Berlin"
SCHEMA = "fc"
INCREMENTAL = ("lead_funnel_daily", "lead_funnel_monthly", "metrics_daily", "sales_performance_monthly")
MARTS = (
    "dim_sales_people", "dim_branches", "dim_lead_sources", "dim_customers", "fct_lead_conversions", "fct_jobs",
    "fct_booked_opportunities", "lead_cohort_monthly", *INCREMENTAL,
)  # fmt: skip
QUALITY = ("field_service_exceptions",)
GARBAGE_DATES = {"31/31/2024", "2024-02-30", "13/45/2023"}
GARBAGE_AMOUNTS = {"n/a", "TBD", "#VALUE!"}
DATE_COLUMNS = {"leads": "created_at", "lost_leads": "lost_at", "booked_opportunities": "booked_at",
                "jobs": "job_date", "user_performance": "date", "bad_leads": "flagged_at"}  # fmt: skip
MONEY_COLUMNS = {"booked_opportunities": "estimated_amount", "jobs": "revenue"}
NAME_COLUMNS = {
    "sales_person": ("dim_sales_people", "sales_person_key", "sales_person_name",
                     ("leads", "lost_leads", "booked_opportunities", "jobs", "user_performance")),
    "branch": ("dim_branches", "branch_key", "branch_name",
               ("leads", "lost_leads", "booked_opportunities", "jobs", "user_performance")),
    "lead_source": ("dim_lead_sources", "lead_source_key", "lead_source_name", ("leads", "booked_opportunities")),
}  # fmt: skip


class FieldCrmDbt(InProcessDbt):
    """dbt in this process against one schema of the module's database; the project is parsed once."""

    def build_all(self, source_dt: date, full_refresh: bool = False) -> None:
        """Seeds and every model staging.field_crm feeds (and their seed parents)."""
        self("build", "--select", "@staging.field_crm", "--resource-type", "seed", "--resource-type", "model",
             source_dt=source_dt, full_refresh=full_refresh)  # fmt: skip

    def incremental(self, source_dt: date, full_refresh: bool = False) -> None:
        self("run", "--select", *INCREMENTAL, source_dt=source_dt, full_refresh=full_refresh)


def rel(model: str) -> str:
    layer = "marts" if model in MARTS else "quality" if model in QUALITY else "staging"
    layer = "intermediate" if model.startswith("int_") else layer
    return f"{SCHEMA}_{layer}.{model}"


def assert_full_refresh_changes_nothing(wh, dbt: FieldCrmDbt, source_dt: date) -> None:
    """Every incremental table, as the runs so far built it, equals its full refresh at `source_dt`."""
    relations = {model: rel(model) for model in INCREMENTAL}
    snapshot(wh, relations, "fc_snapshot")
    dbt.incremental(source_dt, full_refresh=True)
    assert_equal_to_snapshot(wh, relations, "fc_snapshot", "incremental runs and a full refresh")


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("field_crm_gen")
    generator.generate_field_crm(out, leads=3000, seed=1, end=END)
    return out


@pytest.fixture(scope="module")
def dbt(wh, export, tmp_path_factory) -> FieldCrmDbt:
    """Loaded and built: seeds, staging, intermediate, marts; incremental models fully refreshed at D0.
    A small Pipedrive export is landed too: the privacy index (privacy_raw_rows) reads both sources."""
    from orchestration.ingest.generators.pipedrive import generate_pipedrive

    pipedrive = tmp_path_factory.mktemp("pipedrive_gen")
    generate_pipedrive(pipedrive, deals=20, seed=1, end=END, days=60)
    wh.load(pipedrive, "pipedrive")
    wh.load(export, "field_crm")
    runner = FieldCrmDbt(wh.conn, SCHEMA, tmp_path_factory.mktemp("field_crm_target"), TIMEZONE, backfill=BACKFILL)
    runner.build_all(D0, full_refresh=True)
    return runner


def raw_rows(wh, table: str) -> list[dict[str, object]]:
    columns = [c for t in source_tables("field_crm") if t.name == table for c in t.columns]
    names = ", ".join(columns)
    rows = wh.query(f"select _source_file, _source_line, _load_id, _extra::text, {names} from raw_field_crm.{table}")
    keys = ["_source_file", "_source_line", "_load_id", "_extra", *columns]
    return [dict(zip(keys, row, strict=True)) for row in rows]


def test_raw_equals_staged_plus_duplicates_plus_rejected_for_every_file(dbt, wh) -> None:
    for table in source_tables("field_crm"):
        rows = raw_rows(wh, table.name)
        assert rows, f"{table.name} is empty"
        # Independent duplicate detection: same contract values (and extras) as an earlier row.
        first_seen: dict[tuple[object, ...], tuple[object, ...]] = {}
        duplicates = set()
        for row in sorted(rows, key=lambda r: (r["_load_id"], r["_source_file"], r["_source_line"])):
            values = (row["_extra"], *(row[c] for c in table.columns))
            where = (row["_source_file"], row["_source_line"])
            if values in first_seen:
                duplicates.add(where)
            else:
                first_seen[values] = where
        raw = {(r["_source_file"], r["_source_line"]) for r in rows}
        staged_list = wh.query(f"select _source_file, _source_line from {rel('stg_field_crm__' + table.name)}")
        rejected_list = wh.query(
            f"select _source_file, _source_line from {rel('stg_field_crm__rejects')} where source_table = %s",
            (table.name,),
        )
        staged, rejected = set(staged_list), set(rejected_list)
        assert len(staged) == len(staged_list) and len(rejected) == len(rejected_list), f"{table.name}: repeats"
        assert not staged & rejected and not staged & duplicates and not rejected & duplicates, table.name
        assert staged | rejected | duplicates == raw, f"{table.name}: raw rows unaccounted for"
        per_file: defaultdict[Any, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for where in raw:
            per_file[where[0]][0] += 1
            per_file[where[0]][1 + (where in rejected) * 2 + (where in duplicates)] += 1
        reported = wh.query(
            f"select _source_file, raw_rows, staged_rows, duplicate_rows, rejected_rows, is_reconciled"
            f" from {rel('stg_field_crm__file_reconciliation')} where source_table = %s",
            (table.name,),
        )
        assert {r[0]: [*r[1:5]] for r in reported} == dict(per_file), table.name
        assert all(r[5] for r in reported)


def test_planted_garbage_dates_are_rejected_and_garbage_amounts_are_exceptions(dbt, wh) -> None:
    rejects: defaultdict[str, dict[Any, Any]] = defaultdict(dict)
    for table, file, line, reason in wh.query(
        f"select source_table, _source_file, _source_line, reject_reason from {rel('stg_field_crm__rejects')}"
    ):
        rejects[table][(file, line)] = reason
    exceptions = {
        (kind, subject): detail
        for kind, subject, detail in wh.query(
            f"select exception_type, subject, detail from {rel('field_service_exceptions')}"
        )
    }
    planted_dates = planted_amounts = 0
    for table, column in DATE_COLUMNS.items():
        for row in raw_rows(wh, table):
            if row[column] in GARBAGE_DATES:
                planted_dates += 1
                where = (row["_source_file"], row["_source_line"])
                reason = rejects[table].get(where)
                disposition = wh.scalar(
                    f"select row_disposition from {rel('base_field_crm__' + table)}"
                    " where _source_file = %s and _source_line = %s",
                    where,
                )
                assert disposition == "duplicate" or (reason and f"{column} is not a" in reason), (table, where)
    for table, column in MONEY_COLUMNS.items():
        key, kind = {"booked_opportunities": ("opportunity_id", "unreadable_booking_amount"),
                     "jobs": ("job_id", "unreadable_job_revenue")}[table]  # fmt: skip
        for row in raw_rows(wh, table):
            if row[column] in GARBAGE_AMOUNTS:
                planted_amounts += 1
                where = (row["_source_file"], row["_source_line"])
                assert not (rejects[table].get(where) or "").count(f"{column} is not a"), (table, where)
                disposition = wh.scalar(
                    f"select row_disposition from {rel('base_field_crm__' + table)}"
                    " where _source_file = %s and _source_line = %s",
                    where,
                )
                if disposition == "staged":
                    detail = exceptions.get((kind, row[key]))
                    assert detail and f"'{row[column]}'" in detail, (table, where, detail)
    assert planted_dates > 0 and planted_amounts > 0, "the generator planted no garbage values"


def test_every_spelling_resolves_to_one_canonical_key_or_is_an_exception(dbt, wh) -> None:
    exceptions = {
        (kind, subject)
        for kind, subject in wh.query(f"select exception_type, subject from {rel('field_service_exceptions')}")
    }
    for dimension, (dim, key, name, tables) in NAME_COLUMNS.items():
        spelled_as: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for member_key, member_name, variants in wh.query(f"select {key}, {name}, raw_variants from {rel(dim)}"):
            for variant in variants:
                spelled_as[variant].append((member_key, member_name))
        seen = {
            value
            for table in tables
            for (value,) in wh.query(f"select distinct {dimension} from raw_field_crm.{table}")
            if value.strip()
        }
        assert seen, dimension
        for value in seen:
            members = spelled_as.get(value, [])
            assert len(members) == 1, f"{dimension} {value!r} resolves to {members}"
            if members[0][0] == "unresolved":
                assert (f"unresolved_{dimension}", value) in exceptions, f"{value!r} is not in the exceptions"
        # The generator's own truth: every spelling it wrote resolves to the canonical name it stands for.
        truth = {
            "sales_person": (vocabulary.CANONICAL_SALES_PEOPLE, vocabulary.SALES_PERSON_VARIANTS),
            "branch": (vocabulary.CANONICAL_BRANCHES, vocabulary.BRANCH_VARIANTS),
            "lead_source": (vocabulary.CANONICAL_LEAD_SOURCES, vocabulary.LEAD_SOURCE_VARIANTS),
        }[dimension]
        canonical_names = {n for _, n in wh.query(f"select {key}, {name} from {rel(dim)} where not is_placeholder")}
        assert set(truth[0]) == canonical_names, dimension
        for canonical, variants in truth[1].items():
            for variant in variants:
                if variant in seen:
                    assert spelled_as[variant] and spelled_as[variant][0][1] == canonical, (dimension, variant)


def normalise_email(value: str) -> str | None:
    email = re.sub(r"\s+", "", value).lower()
    return email if re.fullmatch(r"[^@]+@[^@]+\.[^@.]+", email) else None


def test_every_booked_or_closed_job_with_a_contact_has_exactly_one_customer(dbt, wh) -> None:
    lead_contact: dict[Any, Any] = {}
    for quote, email, phone in wh.query("select quote_number, customer_email, customer_phone from raw_field_crm.leads"):
        digits = re.sub(r"[^0-9]", "", phone)
        lead_contact.setdefault(quote, (normalise_email(email), digits or None))
    jobs = wh.query(
        f"select raw.job_id, raw.quote_number, raw.customer_email, fct.customer_id"
        f" from raw_field_crm.jobs as raw join {rel('fct_jobs')} as fct on raw.job_id = fct.job_id"
        f" where fct.job_status in ('BOOKED', 'CLOSED')"
    )
    assert len(jobs) > 100
    customers = {cid for (cid,) in wh.query(f"select customer_id from {rel('dim_customers')}")}
    assert wh.scalar(f"select count(*) - count(distinct customer_id) from {rel('dim_customers')}") == 0
    by_email: dict[str, set[str]] = defaultdict(set)
    for job_id, quote, email, customer_id in jobs:
        own = normalise_email(email)
        lead_email, lead_phone = lead_contact.get(quote, (None, None))
        if own or lead_email or lead_phone:
            assert customer_id is not None, f"job {job_id} has a contact but no customer"
            assert customer_id in customers, f"job {job_id}: customer {customer_id} not in dim_customers"
        if own:
            by_email[own].add(customer_id)
    assert all(len(ids) == 1 for ids in by_email.values()), "one e-mail, several customers"
    assert len({next(iter(ids)) for ids in by_email.values()}) == len(by_email), "several e-mails, one customer"
    # No personal data in the marts: no column of a field_service mart holds an e-mail or a phone.
    for model in MARTS:
        columns = [c for (c,) in wh.query(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            (f"{SCHEMA}_marts", model),
        )]  # fmt: skip
        assert columns and not [c for c in columns if re.search(r"email|phone|customer_name", c)], model


@pytest.fixture(scope="module")
def replayed(dbt, wh) -> FieldCrmDbt:
    """After the D0 full refresh: incremental runs D1..D7."""
    for day in DAYS:
        dbt.incremental(day)
    return dbt


def test_incremental_replay_equals_full_refresh(replayed, wh) -> None:
    assert_full_refresh_changes_nothing(wh, replayed, D7)
    days = {d for (d,) in wh.query(f"select metric_date from {rel('metrics_daily')}")}
    assert set(DAYS) <= days and D0 in days and max(days) == D7
    months = {m for (m,) in wh.query(f"select funnel_month from {rel('lead_funnel_monthly')}")}
    assert {date(2025, 3, 1), date(2025, 4, 1)} <= months


def test_rerun_changes_nothing(replayed, wh) -> None:
    # The tables (facts, dims, lead_cohort_monthly) are as of source_dt: built at D7 first, then every rerun at D7
    # (an incremental run, a whole build) leaves every mart as it was.
    replayed.build_all(D7)
    before = {model: checksum(wh, rel(model)) for model in (*MARTS, *QUALITY)}
    replayed.incremental(D7)
    assert {model: checksum(wh, rel(model)) for model in (*MARTS, *QUALITY)} == before
    replayed.build_all(D7)
    assert {model: checksum(wh, rel(model)) for model in (*MARTS, *QUALITY)} == before


def test_late_messy_lead_is_an_exception_and_lands_in_the_next_window(replayed, wh, tmp_path) -> None:
    late = tmp_path / "late"
    late.mkdir()
    leads = next(t for t in source_tables("field_crm") if t.name == "leads")
    late_day = D7 - timedelta(days=1)
    write_csv(late / "leads__late.csv", leads.columns, [[
            "L9999999", "Q-999999", late_day.strftime("%m/%d/%Y"), " On Hold ", "Carrier Pigeon", "Atlantis Harbour",
            "Zed Newhire", "Test Person", " Test.Person@Example.com ", "+44 20 5550100", "London", "", "", "Yes",
    ]])  # fmt: skip
    wh.load(late, "field_crm")
    replayed.build_all(D7)
    exceptions = set(wh.query(f"select exception_type, subject from {rel('field_service_exceptions')}"))
    for expected in [("unresolved_sales_person", "Zed Newhire"), ("unresolved_branch", "Atlantis Harbour"),
                     ("unresolved_lead_source", "Carrier Pigeon"), ("unknown_lead_status", "on hold")]:  # fmt: skip
        assert expected in exceptions
    unresolved = wh.scalar(f"select raw_variants from {rel('dim_sales_people')} where sales_person_key = 'unresolved'")
    assert "Zed Newhire" in unresolved
    created = wh.scalar(
        f"select sum(leads_count) from {rel('lead_funnel_daily')}"
        " where funnel_date = %s and sales_person_key = 'unresolved' and branch_key = 'unresolved'",
        (late_day,),
    )
    assert created == 1, "the late lead is not in the daily funnel after the next run"
    assert_full_refresh_changes_nothing(wh, replayed, D7)
    reconciled = wh.query(
        f"select raw_rows, staged_rows from {rel('stg_field_crm__file_reconciliation')}"
        " where _source_file = 'leads__late.csv'"
    )
    assert reconciled == [(1, 1)]
