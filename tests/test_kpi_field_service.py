"""Field-service KPI definitions (issue 17, points 4-6) on a small hand-written field_crm export.

Every expected value below is counted by hand from the CSV rows written here, never by the code under test.
The export (one lead source, branch, sales person and region, so each month is one row), source_dt 2025-07-20:

  lead  quote  created     booking (booked_at, amount)        job (job_date, status, revenue)
  L9    Q9     2025-04-15  B9 2025-06-12 "$1,500.00"          J9 2025-07-25 closed 300   (dated after source_dt)
  L1    Q1     2025-05-05  B1 2025-05-20 1200 (15 days)       J1 2025-06-10 closed 1000
  L2    Q2     2025-05-10  B2 2025-06-25 900 (46 days)        J2 2025-07-25 scheduled 800 (future)
  L3    Q3     2025-05-20  -                                  -            (lost 2025-06-15)
  L4    Q4     2025-05-28  -                                  -            (flagged bad 2025-06-01)
  L5    Q5     2025-06-02  B5 2025-06-05 "TBD"  (3 days)      J5 2025-06-20 completed "n/a"
  L6    Q6     2025-06-25  B6 2025-07-10 "#VALUE!" (15 days)  J6 2025-07-15 booked 500  (scheduled, due)
  L7    Q7     2025-07-01  B7 2025-07-25 400 (after source_dt)
  L8    Q8     2025-07-28  (created after source_dt)
  plus a booking with an impossible date (rejected) and an exact copy of B1's line (duplicate).

Point 4: the flow ratio of June is 3 bookings / 2 leads = 1.5 and is named bookings_per_lead_flow_rate; the cohort
shares (lead_cohort_monthly) never exceed 1. Point 5: B5, B6 and J5 stay a booking / job with a null amount and an
exception naming the value; raw = staged + duplicates + rejected. Point 6: jobs done = CLOSED jobs dated up to
source_dt (J1, J5); J6 (booked) is scheduled, J2 and J9 (dated after source_dt) are neither done nor counted.
Built as the daily job does (full refresh at 07-14, daily runs to 07-20); `funnel reconcile` must hold after it, and
after incremental-only runs over tables built at an earlier source_dt.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from dbt_helpers import InProcessDbt, assert_equal_to_snapshot, snapshot, write_csv

from orchestration.core.contracts import source_tables

SOURCE_DT = date(2025, 7, 20)
LATER_DT = date(2025, 7, 31)
SCHEMA = "kfs"
INCREMENTAL = ("lead_funnel_daily", "lead_funnel_monthly", "metrics_daily", "sales_performance_monthly")
PERSON = ("Anna Schmidt", "Berlin Mitte")


def _lead(n: int, created_at: str, status: str, customer_name: str) -> list[str]:
    """A raw lead row of PERSON's branch from Google Ads: lead L<n>, quote Q<n>, customer l<n>@example.com."""
    return [f"L{n}", f"Q{n}", created_at, status, "Google Ads", PERSON[1], PERSON[0], customer_name,
            f"l{n}@example.com", f"030 111111{n}", "Berlin", "Hamburg", "EU-DE", "yes"]  # fmt: skip


# lead_id, quote_number, created_at, status, lead_source, branch, sales_person, customer_name, customer_email,
# customer_phone, origin_city, destination_city, region, gdpr_consent
LEADS = [
    _lead(9, "2025-04-15 09:00:00", "booked", "Ida Nine"),
    _lead(1, "2025-05-05 09:00:00", "booked", "Al One"),
    _lead(2, "2025-05-10 09:00:00", "booked", "Bo Two"),
    _lead(3, "2025-05-20 09:00:00", "contacted", "Cy Three"),
    _lead(4, "2025-05-28 09:00:00", "new", "Di Four"),
    _lead(5, "2025-06-02 09:00:00", "booked", "Ed Five"),
    _lead(6, "2025-06-25 09:00:00", "booked", "Flo Six"),
    _lead(7, "2025-07-01 09:00:00", "quoted", "Gus Seven"),
    _lead(8, "2025-07-28 09:00:00", "new", "Hal Eight"),
]
BOOKINGS = [
    # opportunity_id, quote_number, booked_at, estimated_amount, sales_person, branch, lead_source, customer_email
    ["B9", "Q9", "2025-06-12T10:00:00", "$1,500.00", *PERSON, "Google Ads", "l9@example.com"],
    ["B1", "Q1", "2025-05-20T10:00:00", "1200", *PERSON, "Google Ads", "l1@example.com"],
    ["B2", "Q2", "2025-06-25T10:00:00", "900", *PERSON, "Google Ads", "l2@example.com"],
    ["B5", "Q5", "2025-06-05T10:00:00", "TBD", *PERSON, "Google Ads", "l5@example.com"],
    ["B6", "Q6", "2025-07-10T10:00:00", "#VALUE!", *PERSON, "Google Ads", "l6@example.com"],
    ["B7", "Q7", "2025-07-25T10:00:00", "400", *PERSON, "Google Ads", "l7@example.com"],
    ["B8", "Q8", "2025-02-30T10:00:00", "100", *PERSON, "Google Ads", "l8@example.com"],  # impossible date
    ["B1", "Q1", "2025-05-20T10:00:00", "1200", *PERSON, "Google Ads", "l1@example.com"],  # exact copy
]
JOBS = [
    # job_id, quote_number, job_date, status, revenue, sales_person, branch, customer_email, origin, destination
    ["J9", "Q9", "2025-07-25", "closed", "300", *PERSON, "l9@example.com", "Berlin", "Hamburg"],
    ["J1", "Q1", "2025-06-10", "closed", "1000", *PERSON, "l1@example.com", "Berlin", "Hamburg"],
    ["J2", "Q2", "2025-07-25", "scheduled", "800", *PERSON, "l2@example.com", "Berlin", "Hamburg"],
    ["J5", "Q5", "2025-06-20", "completed", "n/a", *PERSON, "l5@example.com", "Berlin", "Hamburg"],
    ["J6", "Q6", "2025-07-15", "booked", "500", *PERSON, "l6@example.com", "Berlin", "Hamburg"],
]
OTHER_FILES = {
    "bad_leads": [["L4", "Q4", "spam", "2025-06-01"]],
    "lost_leads": [["Q3", "too expensive", "2025-06-15", *PERSON]],
    "user_performance": [["Anna Schmidt", "2025-06-02", "10", "6", "45", "Berlin Mitte"]],
}


def write_export(directory: Path) -> Path:
    rows = {"leads": LEADS, "booked_opportunities": BOOKINGS, "jobs": JOBS, **OTHER_FILES}
    for table in source_tables("field_crm"):
        write_csv(directory / f"{table.name}.csv", table.columns, rows[table.name])
    return directory


class KpiDbt(InProcessDbt):
    """dbt in this process against schema `kfs` of the module's database, in a target path of its own."""

    def build(self, source_dt: date, full_refresh: bool = False, tests: bool = False) -> None:
        """Seeds, staging.field_crm, every field-service mart and quality list with their parents (and their tests
        if asked)."""
        kinds = ["seed", "model", *(["test", "unit_test"] if tests else [])]
        self("build", "--select", "staging.field_crm", "+marts.field_service", "+quality.field_service",
             *[a for kind in kinds for a in ("--resource-type", kind)],
             source_dt=source_dt, full_refresh=full_refresh)  # fmt: skip

    def daily(self, source_dt: date) -> None:
        """What a daily run does: every field-service model, the keyed ones by key, the windowed ones over their
        window."""
        self("run", "--select", "staging.field_crm", "+marts.field_service", "--exclude", "resource_type:seed",
             source_dt=source_dt)  # fmt: skip


def mart(model: str) -> str:
    return f"{SCHEMA}_marts.{model}"


@pytest.fixture(scope="module")
def dbt(wh, tmp_path_factory) -> KpiDbt:
    """Loaded; full refresh at 2025-07-14, then daily runs 07-15 .. 07-20 (the incremental path)."""
    wh.load(write_export(tmp_path_factory.mktemp("kpi_field_service")), "field_crm")
    runner = KpiDbt(wh.conn, SCHEMA, tmp_path_factory.mktemp("kpi_field_service_target"), switches=True)
    start = SOURCE_DT - timedelta(days=6)
    runner.build(start, full_refresh=True)
    for offset in range(5, -1, -1):
        runner.daily(SOURCE_DT - timedelta(days=offset))
    return runner


def test_funnel_reconcile_holds_after_the_daily_runs(dbt, wh, monkeypatch) -> None:
    """`funnel reconcile`: raw = staged + duplicates + rejected per table, every incremental model = a full refresh."""
    from orchestration.ops.reconcile import format_report, reconcile

    monkeypatch.setenv("FUNNEL_DB_SCHEMA", SCHEMA)
    monkeypatch.setenv("FUNNEL_TARGET", "dev")
    report = reconcile(source_dt=SOURCE_DT.isoformat(), conn=wh.conn)
    assert report.ok, format_report(report)
    tables = {
        t.source_table: (t.raw_rows, t.staged_rows, t.duplicate_rows, t.rejected_rows, t.rejects_by_reason)
        for t in report.tables
    }
    assert tables["booked_opportunities"] == (8, 6, 1, 1, {"booked_at is not a date: '2025-02-30T10:00:00'": 1})
    assert tables["jobs"] == (5, 5, 0, 0, {})
    assert set(INCREMENTAL) <= {m.model for m in report.models if m.covered_dates > 0}, format_report(report)


def test_incremental_runs_equal_a_full_refresh_with_every_dbt_test_passing(dbt, wh) -> None:
    relations = {model: mart(model) for model in INCREMENTAL}
    snapshot(wh, relations, "kfs_snapshot")
    dbt.build(SOURCE_DT, full_refresh=True, tests=True)  # contracts, unique keys, unit tests
    assert_equal_to_snapshot(wh, relations, "kfs_snapshot", "incremental runs and a full refresh")


# --- point 4: flow ratio named for what it is, cohort conversion next to it ----------------------------------


def test_flow_ratios_are_named_flow_and_may_exceed_one(dbt, wh) -> None:
    rows = wh.query(
        "select funnel_month, leads_count, booked_count, jobs_done_count, jobs_scheduled_count, booked_value, revenue,"
        " bookings_per_lead_flow_rate, jobs_done_per_booking_flow_rate, jobs_done_per_lead_flow_rate"
        f" from {mart('lead_funnel_monthly')} order by funnel_month"
    )
    d = Decimal
    assert rows == [
        (date(2025, 4, 1), 1, 0, 0, 0, d("0.00"), d("0.00"), d("0.0000"), None, d("0.0000")),
        (date(2025, 5, 1), 4, 1, 0, 0, d("1200.00"), d("0.00"), d("0.2500"), d("0.0000"), d("0.0000")),
        # June: B9, B2, B5 (amount TBD: counted, no value); J1 and J5 done (J5's revenue n/a: done, no revenue)
        (date(2025, 6, 1), 2, 3, 2, 0, d("2400.00"), d("1000.00"), d("1.5000"), d("0.6667"), d("1.0000")),
        # July (to source_dt): L7 (L8 is later), B6 (#VALUE!); J6 booked on 07-15 is scheduled, not done
        (date(2025, 7, 1), 1, 1, 0, 1, d("0.00"), d("0.00"), d("1.0000"), d("0.0000"), d("0.0000")),
    ]
    columns = {
        c
        for (c,) in wh.query(
            "select column_name from information_schema.columns where table_schema = %s"
            " and table_name in ('lead_funnel_daily', 'lead_funnel_monthly', 'sales_performance_monthly')",
            (f"{SCHEMA}_marts",),
        )
    }
    assert not {"lead_to_booked_rate", "booked_to_job_rate", "lead_to_job_rate", "close_rate"} & columns
    assert {"bookings_per_lead_flow_rate", "bookings_per_quote_flow_rate"} <= columns


def test_cohort_conversion_of_the_leads_created_in_a_month(dbt, wh) -> None:
    rows = wh.query(
        "select cohort_month, leads_count, leads_booked_count, leads_30_days_observed_count,"
        " leads_booked_within_30_days_count, leads_job_done_count,"
        " lead_to_booking_rate, lead_to_booking_30_day_rate, lead_to_job_done_rate"
        f" from {mart('lead_cohort_monthly')} order by cohort_month"
    )
    d = Decimal
    assert rows == [
        # L9: booked after 58 days; its job J9 is dated after source_dt (not done)
        (date(2025, 4, 1), 1, 1, 1, 0, 0, d("1.0000"), d("0.0000"), d("0.0000")),
        # L1 booked in 15 days (job done), L2 in 46 days, L3 and L4 never
        (date(2025, 5, 1), 4, 2, 4, 1, 1, d("0.5000"), d("0.2500"), d("0.2500")),
        # L5 booked in 3 days (job J5 done); L6 booked in 15 days but its 30 days are not over on 07-20
        (date(2025, 6, 1), 2, 2, 1, 1, 1, d("1.0000"), d("1.0000"), d("0.5000")),
        # L7 booked on 07-25, after source_dt; L8 created after source_dt
        (date(2025, 7, 1), 1, 0, 0, 0, 0, d("0.0000"), None, d("0.0000")),
    ]
    (key,) = wh.query(
        f"select lead_source_key, branch_key, sales_person_key, region from {mart('lead_cohort_monthly')}"
        " group by 1, 2, 3, 4"
    )
    assert key == ("google_ads", "berlin_mitte", "anna_schmidt", "eu")


# --- point 5: an unreadable amount keeps its booking / job, empty, with an exception -----------------------


def test_unreadable_amounts_stay_bookings_and_jobs_with_an_exception(dbt, wh) -> None:
    bookings = wh.query(
        f"select opportunity_id, estimated_amount, is_amount_unreadable from {mart('fct_booked_opportunities')}"
        " order by opportunity_id"
    )
    assert bookings == [
        ("B1", Decimal("1200.00"), False), ("B2", Decimal("900.00"), False), ("B5", None, True),
        ("B6", None, True), ("B7", Decimal("400.00"), False), ("B9", Decimal("1500.00"), False),
    ]  # fmt: skip
    j5 = wh.query(
        "select revenue_amount, is_revenue_unreadable, is_done, recognised_revenue, is_transaction"
        f" from {mart('fct_jobs')} where job_id = 'J5'"
    )
    assert j5 == [(None, True, True, Decimal("0.00"), False)]
    exceptions = wh.query(
        "select exception_type, subject, detail, occurrences, first_seen_file"
        f" from {SCHEMA}_quality.field_service_exceptions where exception_type like 'unreadable%%' order by subject"
    )
    assert exceptions == [
        ("unreadable_booking_amount", "B5",
         "estimated_amount is not a money amount: 'TBD' (booked_opportunities.csv:5); the booking is kept with an"
         " empty amount", 1, "booked_opportunities.csv"),
        ("unreadable_booking_amount", "B6",
         "estimated_amount is not a money amount: '#VALUE!' (booked_opportunities.csv:6); the booking is kept with"
         " an empty amount", 1, "booked_opportunities.csv"),
        ("unreadable_job_revenue", "J5",
         "revenue is not a money amount: 'n/a' (jobs.csv:5); the job is kept with an empty revenue", 1, "jobs.csv"),
    ]  # fmt: skip
    # customer histories keep them: L5's customer has its booking and its (done) job, no transaction
    history = wh.query(
        "select c.bookings_count, c.jobs_count, c.transactions_count, c.lifetime_revenue"
        f" from {mart('dim_customers')} as c join {mart('fct_booked_opportunities')} as b using (customer_id)"
        " where b.opportunity_id = 'B5'"
    )
    assert history == [(1, 1, 0, Decimal("0.00"))]


def test_raw_rows_still_reconcile(dbt, wh) -> None:
    rows = wh.query(
        "select source_table, raw_rows, staged_rows, duplicate_rows, rejected_rows, is_reconciled"
        f" from {SCHEMA}_staging.stg_field_crm__file_reconciliation"
        " where source_table in ('booked_opportunities', 'jobs') order by 1"
    )
    assert rows == [("booked_opportunities", 8, 6, 1, 1, True), ("jobs", 5, 5, 0, 0, True)]
    rejects = wh.query(f"select source_table, _source_line, reject_reason from {SCHEMA}_staging.stg_field_crm__rejects")
    assert rejects == [("booked_opportunities", 8, "booked_at is not a date: '2025-02-30T10:00:00'")]


# --- point 6: done = closed / completed, scheduled apart, nothing after source_dt happened -------------------


def test_job_status_semantics_as_of_source_dt(dbt, wh) -> None:
    jobs = wh.query(
        "select job_id, job_status, is_done, is_scheduled, recognised_revenue, is_transaction"
        f" from {mart('fct_jobs')} order by job_id"
    )
    d = Decimal
    assert jobs == [
        ("J1", "CLOSED", True, False, d("1000.00"), True),
        ("J2", "BOOKED", False, True, d("0.00"), False),  # scheduled, dated after source_dt
        ("J5", "CLOSED", True, False, d("0.00"), False),  # completed, revenue unreadable
        ("J6", "BOOKED", False, True, d("0.00"), False),  # booked for 07-15: still only scheduled
        ("J9", "CLOSED", False, True, d("0.00"), False),  # closed but dated 07-25, after source_dt
    ]
    events = wh.query(
        f"select job_id, event_type, event_date from {mart('fct_lead_conversions')}"
        " where job_id is not null order by job_id"
    )
    assert events == [
        ("J1", "converted", date(2025, 6, 10)), ("J2", "scheduled", date(2025, 7, 25)),
        ("J5", "converted", date(2025, 6, 20)), ("J6", "scheduled", date(2025, 7, 15)),
        ("J9", "converted", date(2025, 7, 25)),  # by status; dated after source_dt, so in no KPI table
    ]  # fmt: skip
    days = wh.query(
        f"select funnel_date, jobs_done_count, jobs_scheduled_count, revenue from {mart('lead_funnel_daily')}"
        " where jobs_done_count + jobs_scheduled_count > 0 order by funnel_date"
    )
    assert days == [
        (date(2025, 6, 10), 1, 0, Decimal("1000.00")),
        (date(2025, 6, 20), 1, 0, Decimal("0.00")),
        (date(2025, 7, 15), 0, 1, Decimal("0.00")),
    ]
    # the latest event up to source_dt is J6's; J2, J9, B7 and L8 (all after it) are in no funnel row
    assert wh.scalar(f"select max(funnel_date) from {mart('lead_funnel_daily')}") == date(2025, 7, 15)
    sales = wh.query(
        f"select metric_date, total_sales, transactions_count from {mart('metrics_daily')} where transactions_count > 0"
    )
    assert sales == [(date(2025, 6, 10), Decimal("1000.00"), 1)]
    performance = wh.query(
        f"select performance_month, jobs_count, revenue from {mart('sales_performance_monthly')} where jobs_count > 0"
    )
    assert performance == [(date(2025, 6, 1), 2, Decimal("1000.00"))]


def test_incremental_runs_over_tables_built_at_an_earlier_source_dt_still_reconcile(dbt, wh, monkeypatch) -> None:
    """Tables built as of 07-24 (J9, closed for 07-25, not done yet), then only the incremental models run at 07-27
    and 07-31: the windowed ones decide by status and date, the keyed ones rebuild the quotes with a job dated in
    between (J9 done now), so they equal a full refresh at 07-31 all the same."""
    from orchestration.ops.reconcile import format_report, reconcile

    dbt.build(date(2025, 7, 24), full_refresh=True)
    assert wh.scalar(f"select is_done from {mart('fct_jobs')} where job_id = 'J9'") is False
    for day in (date(2025, 7, 27), LATER_DT):
        dbt("run", "--select", "config.materialized:incremental", source_dt=day)
    assert wh.scalar(f"select is_done from {mart('fct_jobs')} where job_id = 'J9'") is True
    july = wh.query(
        "select jobs_done_count, jobs_scheduled_count, revenue"
        f" from {mart('lead_funnel_monthly')} where funnel_month = '2025-07-01'"
    )
    assert july == [(1, 2, Decimal("300.00"))]  # J9 done on 07-25; J6 (07-15) and J2 (07-25) scheduled
    monkeypatch.setenv("FUNNEL_DB_SCHEMA", SCHEMA)
    monkeypatch.setenv("FUNNEL_TARGET", "dev")
    report = reconcile(source_dt=LATER_DT.isoformat(), conn=wh.conn)
    assert report.ok, format_report(report)


def test_a_later_source_dt_makes_later_jobs_and_bookings_count(dbt, wh) -> None:
    dbt.build(LATER_DT, full_refresh=True)
    jobs = wh.query(
        f"select job_id, is_done, is_scheduled, recognised_revenue from {mart('fct_jobs')}"
        " where job_id in ('J2', 'J9') order by job_id"
    )
    assert jobs == [("J2", False, True, Decimal("0.00")), ("J9", True, False, Decimal("300.00"))]
    cohorts = wh.query(
        "select cohort_month, leads_count, leads_booked_count, leads_job_done_count, lead_to_job_done_rate"
        f" from {mart('lead_cohort_monthly')} where cohort_month in ('2025-04-01', '2025-07-01') order by 1"
    )
    assert cohorts == [
        (date(2025, 4, 1), 1, 1, 1, Decimal("1.0000")),  # J9 done on 07-25
        (date(2025, 7, 1), 2, 1, 0, Decimal("0.0000")),  # L8 created 07-28; L7 booked 07-25
    ]
    july = wh.query(
        "select jobs_done_count, jobs_scheduled_count, revenue"
        f" from {mart('lead_funnel_monthly')} where funnel_month = '2025-07-01'"
    )
    assert july == [(1, 2, Decimal("300.00"))]  # J9 done; J6 and J2 scheduled
    performance = wh.query(
        f"select performance_month, jobs_count, revenue from {mart('sales_performance_monthly')}"
        " where jobs_count > 0 order by 1"
    )
    assert performance == [(date(2025, 6, 1), 2, Decimal("1000.00")), (date(2025, 7, 1), 1, Decimal("300.00"))]
