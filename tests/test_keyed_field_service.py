"""The keyed field-service models (macros/incremental_keys.sql) equal a full refresh after every run.

A small generated field_crm export, built whole at D0; then runs that each change what a keyed model must find
by its keys, every keyed model compared whole with a fresh full refresh (schema `orc`) at the same as-of date:
  1. the as-of date moves (nothing lands): jobs dated in between become done, leads turn 30 days old;
  2. a late drop: a lead's new version moves it to another quote, takes another lead's phone and a new e-mail; a
     new lead without a quote shares a third lead's phone; a lead loses its e-mail (its customer resolves by
     phone now) and a new lead of another quote has its phone and an e-mail; a booking's amount changes; a new
     booking and a closed job dated after the as-of date; a bad flag of a lead by lead id; a loss re-dated; a
     job closed long before the window (a new customer's first transaction) and a new version of an old day's call
     metrics: facts dated before every window, which the windowed tables take as late days;
  3. the job of the drop replaced (`--replace`, scheduled now): the keyed models rebuild whole;
  4. the as-of date crosses a month end, and a lead of another lifecycle takes the phone that the lead without an
     e-mail and the holder's lead share (only the two lifecycles are rebuilt: no load touches the holder's);
  5. the same day: that lead moves to a phone nobody has.
Runs 1, 2, 4 and 5 go by keys (the state table says so), run 3 whole. The windowed tables built on them
(lead_funnel_daily, lead_funnel_monthly, metrics_daily, sales_performance_monthly) are compared whole too: a run
replaces its window and the late days its keyed inputs rewrote before it.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from dbt_helpers import InProcessDbt, differing_rows, planted, write_csv

from orchestration.ingest.generators.field_crm import generate_field_crm

END = date(2025, 3, 31)
D0, D1, D2, D3 = date(2025, 3, 20), date(2025, 3, 23), date(2025, 3, 26), date(2025, 4, 2)
KEYED = {
    **{f"base_field_crm__{t}": "staging" for t in (
        "leads", "bad_leads", "lost_leads", "booked_opportunities", "jobs", "user_performance",
    )},
    "int_field_service__name_variants": "intermediate",
    "int_field_service__customer_contacts": "intermediate",
    "int_field_service__leads_enriched": "intermediate",
    "int_field_service__quotes_linked": "intermediate",
    "int_field_service__lead_cohorts_assigned": "intermediate",
    "fct_booked_opportunities": "marts",
    "fct_jobs": "marts",
    "fct_lead_conversions": "marts",
    "dim_customers": "marts",
    "lead_cohort_monthly": "marts",
}  # fmt: skip
SHARED_PHONE = "+49 30 5550001"  # international: the same E.164 whatever the lead's branch
WINDOWED = ("lead_funnel_daily", "lead_funnel_monthly", "metrics_daily", "sales_performance_monthly")


class FieldServiceDbt(InProcessDbt):
    def build(self, source_dt: date, full_refresh: bool = False) -> None:
        """Seeds and every model staging.field_crm feeds (no tests: the comparison is the test)."""
        self("build", "--select", "@staging.field_crm", "--resource-type", "seed", "--resource-type", "model",
             source_dt=source_dt, full_refresh=full_refresh)  # fmt: skip

    def relation(self, model: str) -> str:
        return f"{self.schema}_{KEYED.get(model, 'marts')}.{model}"


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("keyed_fs")
    generate_field_crm(out, leads=200, seed=9, end=END, days=60)
    return out


@pytest.fixture(scope="module")
def runs(wh, export, tmp_path_factory) -> tuple[FieldServiceDbt, FieldServiceDbt]:
    wh.load(export, "field_crm")
    target = tmp_path_factory.mktemp("keyed_fs_target")
    prop = FieldServiceDbt(wh.conn, "prop", target / "prop", switches=True)
    oracle = FieldServiceDbt(wh.conn, "orc", target / "orc", switches=True)
    prop.build(D0, full_refresh=True)
    return prop, oracle


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def lifecycle_leads_with_phone(header: list[str], leads: list[list[str]]) -> list[list[str]]:
    """The leads with a phone and a quote, in file order: the drops pick their leads from these by position."""
    phone, quote = header.index("customer_phone"), header.index("quote_number")
    return [r for r in leads if r[phone].strip() and r[quote].strip()]


def late_drop(export: Path, folder: Path) -> None:
    """The drop of run 2 (see the module doc), as `<table>__late.csv` files."""
    folder.mkdir(exist_ok=True)
    header, leads = read(export / "leads.csv")
    col = {name: i for i, name in enumerate(header)}
    with_phone = lifecycle_leads_with_phone(header, leads)
    moved, phone_donor, sharer_donor, loses_email = with_phone[2], with_phone[9], with_phone[19], with_phone[29]
    moved = list(moved)
    moved[col["quote_number"]] = "Q-LATE-1"
    moved[col["customer_phone"]] = phone_donor[col["customer_phone"]]
    moved[col["customer_email"]] = "moved.lead@example.com"
    sharer = list(sharer_donor)
    sharer[col["lead_id"]], sharer[col["quote_number"]] = "L-LATE-1", ""
    sharer[col["customer_email"]], sharer[col["created_at"]] = "someone.else@example.com", "2025-03-24"
    no_email = list(loses_email)
    no_email[col["customer_email"]], no_email[col["customer_phone"]] = "", SHARED_PHONE
    # a lead of its own quote on the phone of the lead without an e-mail: one of that phone's owner e-mails
    holder = list(sharer_donor)
    holder[col["lead_id"]], holder[col["quote_number"]] = "L-LATE-2", "Q-LATE-2"
    holder[col["customer_phone"]] = SHARED_PHONE
    holder[col["customer_email"]], holder[col["created_at"]] = "holder@example.com", "2025-03-24"  # donor's may be bad
    write_csv(folder / "leads__late.csv", header, [moved, sharer, no_email, holder])

    header, bookings = read(export / "booked_opportunities.csv")
    bcol = {name: i for i, name in enumerate(header)}
    new_booking = list(bookings[0])
    new_booking[bcol["opportunity_id"]], new_booking[bcol["quote_number"]] = "OPP-LATE-1", "Q-LATE-1"
    new_booking[bcol["booked_at"]] = "2025-03-25"
    changed = list(bookings[5])
    changed[bcol["estimated_amount"]] = "9999.99"
    write_csv(folder / "booked_opportunities__late.csv", header, [new_booking, changed])

    header, jobs = read(export / "jobs.csv")
    jcol = {name: i for i, name in enumerate(header)}
    job = list(jobs[0])
    job[jcol["job_id"]], job[jcol["quote_number"]] = "J-LATE-1", "Q-LATE-1"
    job[jcol["job_date"]], job[jcol["status"]] = "2025-03-30", "closed"
    early = list(jobs[1])
    early[jcol["job_id"]], early[jcol["status"]], early[jcol["job_date"]] = "J-LATE-2", "completed", "2025-02-03"
    early[jcol["revenue"]], early[jcol["customer_email"]] = "1234.50", "first.time@example.com"
    write_csv(folder / "jobs__late.csv", header, [job, early])

    header, calls = read(export / "user_performance.csv")
    recounted = list(calls[3])
    recounted[header.index("calls_made")] = str(int(recounted[header.index("calls_made")]) + 7)
    write_csv(folder / "user_performance__late.csv", header, [recounted])

    header, _ = read(export / "bad_leads.csv")
    flag = {"lead_id": with_phone[40][col["lead_id"]], "quote_number": "", "reason": "spam", "flagged_at": "2025-03-25"}
    write_csv(folder / "bad_leads__late.csv", header, [[flag[h] for h in header]])

    header, lost = read(export / "lost_leads.csv")
    redated = list(lost[0])
    redated[header.index("lost_at")] = "2025-03-24"
    write_csv(folder / "lost_leads__late.csv", header, [redated])


def assert_keyed_equal_full_refresh(wh, prop: FieldServiceDbt, oracle: FieldServiceDbt, day: date, mode: str) -> None:
    oracle.build(day, full_refresh=True)
    for model in [*KEYED, *WINDOWED]:
        assert differing_rows(wh, prop.relation(model), oracle.relation(model)) == 0, (
            f"{model}: differs from a full refresh at {day}"
        )
    modes = dict(wh.query("select relation_name, mode from prop_intermediate.funnel_keyed_state"))
    assert {modes[prop.relation(model)] for model in KEYED} == {mode}, modes


def test_keyed_runs_equal_a_full_refresh(wh, runs, export, tmp_path) -> None:
    prop, oracle = runs
    prop.build(D1)
    assert_keyed_equal_full_refresh(wh, prop, oracle, D1, "keys")

    drop = tmp_path / "drop"
    late_drop(export, drop)
    wh.load(drop, "field_crm")
    prop.build(D2)
    assert_keyed_equal_full_refresh(wh, prop, oracle, D2, "keys")
    # the moved lead's old quote lost it, its new quote has it, with the booking and the job of the drop
    assert (
        wh.scalar(f"select count(*) from {prop.relation('fct_lead_conversions')} where quote_number = 'Q-LATE-1'") >= 3
    )
    assert late_days_replaced(wh, prop) == {model: True for model in WINDOWED}
    assert_windowed_tests_check_the_late_days(wh, prop)
    assert_staged_views_test_the_keys_of_the_new_loads(wh, prop)

    header, rows = read(drop / "jobs__late.csv")
    rows[0][header.index("status")] = "scheduled"
    write_csv(drop / "jobs__late.csv", header, rows)
    wh.load(drop, "field_crm", replace=True)
    prop.build(D2)
    assert_keyed_equal_full_refresh(wh, prop, oracle, D2, "full")
    assert late_days_replaced(wh, prop) == {model: None for model in WINDOWED}  # every day

    header, leads = read(export / "leads.csv")
    picked = lifecycle_leads_with_phone(header, leads)
    without_email, taker = picked[29], list(picked[50])  # the lead that lost its e-mail in run 2, another lifecycle
    taker[header.index("customer_email")] = "phone.taker@example.com"
    customers = []
    for run, new_phone in enumerate((SHARED_PHONE, "+49 30 99999999"), start=4):
        taker[header.index("customer_phone")] = new_phone
        (tmp_path / f"run{run}").mkdir()
        write_csv(tmp_path / f"run{run}" / f"leads__phone_{run}.csv", header, [taker])
        wh.load(tmp_path / f"run{run}", "field_crm")
        prop.build(D3)
        assert_keyed_equal_full_refresh(wh, prop, oracle, D3, "keys")
        # the lifecycles of the taker and of the lead without an e-mail, not the holder's (nothing of it changed;
        # its lead still counts for the phone's owner, as the last run wrote it)
        rewritten = wh.scalar(
            "select affected_keys from prop_intermediate.funnel_keyed_rewritten where relation_name = %s",
            (prop.relation("int_field_service__customer_contacts"),),
        )
        assert set(rewritten) == {without_email[header.index("quote_number")], taker[header.index("quote_number")]}
        customers.append(wh.scalar(
            f"select customer_id from {prop.relation('int_field_service__customer_contacts')}"
            " where record_type = 'lead' and record_id = %s", (without_email[header.index("lead_id")],)
        ))  # fmt: skip
    # the customer of the lead without an e-mail follows who else carries its phone
    assert customers[0] != customers[1]


def late_days_replaced(wh, prop: FieldServiceDbt) -> dict[str, bool | None]:
    """Per windowed model, whether its last run replaced late days outside its window (None: every day)."""
    state = dict(
        wh.query("select relation_name, cardinality(late_days) > 0 from prop_intermediate.funnel_window_state")
    )
    return {model: state[prop.relation(model)] for model in WINDOWED}


def assert_windowed_tests_check_the_late_days(wh, prop: FieldServiceDbt) -> None:
    """The daily run's tests of the windowed tables pass (the monthly running sums over the late months too); a
    broken row on a late day fails them, one on an earlier day that is not late passes them until test_scope all."""
    assert prop("test", "--select", *WINDOWED, source_dt=D2)
    table = prop.relation("lead_funnel_daily")
    late = (
        "select late_day from prop_intermediate.funnel_window_state, unnest(late_days) as late_day"
        f" where relation_name = '{table}'"
    )
    late_day = wh.scalar(f"select min(late_day) from ({late}) as late")
    quiet_day = wh.scalar(f"select min(funnel_date) from {table} where funnel_date not in ({late})")
    assert late_day is not None and quiet_day is not None and quiet_day < D1  # before the run's window
    relationship = ("test", "--select", "lead_funnel_daily,test_name:relationships")
    wh.query(f"create table {table}__kept as select * from {table}")
    try:
        for day, in_scope in ((quiet_day, False), (late_day, True)):
            wh.query(
                f"update {table} set sales_person_key = 'nobody'"
                f" where ctid = (select ctid from {table} where funnel_date = %s limit 1)",
                (day,),
            )
            assert prop(*relationship, source_dt=D2, expect_ok=False) is not in_scope, day
        assert not prop(*relationship, source_dt=D2, test_scope="all", expect_ok=False)
    finally:
        wh.query(f"truncate {table}; insert into {table} select * from {table}__kept; drop table {table}__kept")


def assert_staged_views_test_the_keys_of_the_new_loads(wh, prop: FieldServiceDbt) -> None:
    """A staged view's tests check the keys its base's last run took from new loads (meta test_scope {column}): a
    lead staged twice that no new load carries passes them and fails them with test_scope all; the same for a lead
    of the drop fails them."""
    base = prop.relation("base_field_crm__leads")
    dropped = wh.scalar(f"select min(lead_id) from {base} where _source_file = 'leads__late.csv'")
    other = wh.scalar(
        f"select min(lead_id) from {base} where row_disposition = 'staged'"
        f" and lead_id not in (select lead_id from {base} where _source_file = 'leads__late.csv')"
    )
    unique = ("test", "--select", "stg_field_crm__leads,test_name:unique_not_null")
    with planted(wh, base, "lead_id", where="row_disposition = 'staged'") as plant:
        plant(other)
        assert prop(*unique, source_dt=D2)
        assert not prop(*unique, source_dt=D2, test_scope="all", expect_ok=False)
        plant(dropped)
        assert not prop(*unique, source_dt=D2, expect_ok=False)
