"""The field_crm generator: contract, determinism, every mess form present in a small run, flat memory."""

from __future__ import annotations

import csv
import hashlib
import re
import tracemalloc
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from orchestration.ingest.generators.field_crm import generate_field_crm
from orchestration.ingest.generators.field_crm_vocabulary import (
    BRANCH_VARIANTS,
    CANONICAL_BRANCHES,
    CANONICAL_LEAD_SOURCES,
    CANONICAL_SALES_PEOPLE,
    LEAD_SOURCE_VARIANTS,
    SALES_PERSON_VARIANTS,
)

END = date(2024, 6, 30)
DAYS = 540
HEADERS = {
    "leads.csv": "lead_id,quote_number,created_at,status,lead_source,branch,sales_person,customer_name,"
    "customer_email,customer_phone,origin_city,destination_city,region,gdpr_consent",
    "bad_leads.csv": "lead_id,quote_number,reason,flagged_at",
    "lost_leads.csv": "quote_number,lost_reason,lost_at,sales_person,branch",
    "booked_opportunities.csv": "opportunity_id,quote_number,booked_at,estimated_amount,sales_person,branch,"
    "lead_source,customer_email",
    "jobs.csv": "job_id,quote_number,job_date,status,revenue,sales_person,branch,customer_email,origin_city,"
    "destination_city",
    "user_performance.csv": "sales_person,date,calls_made,calls_answered,talk_minutes,branch",
}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
US_DATE = re.compile(r"\d{2}/\d{2}/\d{4}")
PLAIN_MONEY = re.compile(r"\d+(\.\d{1,2})?")
DOLLAR_MONEY = re.compile(r"\$\d{1,3}(,\d{3})+\.\d{2}")
PHONE_FORMATS = {
    "international": re.compile(r"\+\d{1,2} \d{1,3} \d{7,8}"),
    "trunk-dash": re.compile(r"0?\d{1,3}-\d{7,8}"),
    "parenthesised": re.compile(r"\(0?\d{1,3}\) \d{3} \d{4,5}"),
    "00-prefixed": re.compile(r"00\d{10,13}"),
}
# What a folding rule cannot resolve: these spellings need an alias seed (spelling -> canonical).
ALIASES_NEEDED = {
    "Joerg Mueller": "Jörg Müller",
    "J. Müller": "Jörg Müller",
    "A. Schmidt": "Anna Schmidt",
    "M. Yilmaz": "Mehmet Yilmaz",
    "M. Dubois": "Marie Dubois",
    "J. Moreau": "Julien Moreau",
    "Helene Petit": "Hélène Petit",
    "J. Smith": "John Smith",
    "E Clarke": "Emily Clarke",
    "M. O'Connor": "Michael O'Connor",
    "S. Johnson": "Sarah Johnson",
    "HH Altona": "Hamburg Altona",
    "Lyon Center": "Lyon Centre",
    "Ldn East": "London East",
    "GoogleAds": "Google Ads",
    "AdWords": "Google Ads",
    "FB Ads": "Facebook Ads",
    "referal": "Referral",
    "Web Site": "Website",
}


def fold(name: str) -> str:
    """The simple folding rule: "Last, First" -> "First Last", lowercase, - and _ to spaces, drop other
    punctuation, collapse whitespace."""
    if name.count(",") == 1:
        last, first = name.split(",")
        name = f"{first} {last}"
    name = re.sub(r"[^\w\s]", "", re.sub(r"[-_]", " ", name.lower()))
    return " ".join(name.split())


def parses_as_date(value: str) -> bool:
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y"):
        try:
            datetime.strptime(value, fmt)
        except ValueError:
            continue
        return True
    return False


def to_date(value: str) -> date:
    if US_DATE.fullmatch(value):
        return datetime.strptime(value, "%m/%d/%Y").date()
    return date.fromisoformat(value[:10])


def sha256s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("field_crm")
    return out, generate_field_crm(out, leads=300, seed=42, end=END, days=DAYS)


@pytest.fixture(scope="module")
def rows(small: tuple[Path, dict[str, int]]) -> dict[str, list[dict[str, str]]]:
    out, _ = small
    result = {}
    for name in HEADERS:
        with (out / name).open(encoding="utf-8", newline="") as f:
            result[name] = list(csv.DictReader(f))
    return result


def column(rows: dict[str, list[dict[str, str]]], file: str, col: str) -> list[str]:
    return [r[col] for r in rows[file]]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate_field_crm(tmp_path / "a", leads=300, seed=7, end=END)
    second = generate_field_crm(tmp_path / "b", leads=300, seed=7, end=END)
    generate_field_crm(tmp_path / "c", leads=300, seed=8, end=END)
    assert first == second
    assert sha256s(tmp_path / "a") == sha256s(tmp_path / "b")
    assert sha256s(tmp_path / "a")["leads.csv"] != sha256s(tmp_path / "c")["leads.csv"]


def test_headers_are_exactly_the_contract(small: tuple[Path, dict[str, int]]) -> None:
    out, counts = small
    assert set(counts) == set(HEADERS) == {p.name for p in out.iterdir()}
    for name, header in HEADERS.items():
        assert (out / name).read_text(encoding="utf-8").split("\n", 1)[0] == header


def test_returned_counts_are_the_data_rows(small: tuple[Path, dict[str, int]]) -> None:
    out, counts = small
    for name, count in counts.items():
        with (out / name).open(encoding="utf-8", newline="") as f:
            assert sum(1 for _ in csv.reader(f)) - 1 == count, name
        assert (out / name).read_bytes().endswith(b"\n") and b"\r" not in (out / name).read_bytes()
    assert counts["leads.csv"] >= 295  # 300 leads, a few deleted (orphans), a few written twice


def test_canonical_constants_match_the_variant_maps() -> None:
    for canon, variants in (
        (CANONICAL_SALES_PEOPLE, SALES_PERSON_VARIANTS),
        (CANONICAL_BRANCHES, BRANCH_VARIANTS),
        (CANONICAL_LEAD_SOURCES, LEAD_SOURCE_VARIANTS),
    ):
        assert canon == tuple(variants)
        assert all(
            spellings[0] == name and len(set(spellings)) == len(spellings) for name, spellings in variants.items()
        )
    assert 8 <= len(CANONICAL_SALES_PEOPLE) <= 15
    for name, spellings in SALES_PERSON_VARIANTS.items():
        assert 2 <= len(spellings) - 1 <= 4, name
        assert any("," in s for s in spellings), f"{name} has no 'Last, First' spelling"
    all_spellings = [s for v in SALES_PERSON_VARIANTS.values() for s in v]
    assert len(all_spellings) == len(set(all_spellings)), "a spelling must map to one person"


def test_folding_resolves_all_but_the_listed_aliases() -> None:
    needed = {}
    for variants in (SALES_PERSON_VARIANTS, BRANCH_VARIANTS, LEAD_SOURCE_VARIANTS):
        folded_canon = {fold(c): c for c in variants}
        assert len(folded_canon) == len(variants), "canonical names must not collide once folded"
        for canonical, spellings in variants.items():
            for spelling in spellings:
                if fold(spelling) != fold(canonical):
                    assert fold(spelling) not in folded_canon, f"{spelling!r} folds onto another name"
                    needed[spelling] = canonical
    assert needed == ALIASES_NEEDED


def test_every_spelling_is_emitted(rows: dict[str, list[dict[str, str]]]) -> None:
    people = {r["sales_person"] for file in rows if file != "bad_leads.csv" for r in rows[file]}
    branches = {r["branch"] for file in rows if file != "bad_leads.csv" for r in rows[file]}
    sources = set(column(rows, "leads.csv", "lead_source")) | set(
        column(rows, "booked_opportunities.csv", "lead_source")
    )
    for variants, seen in (
        (SALES_PERSON_VARIANTS, people),
        (BRANCH_VARIANTS, branches),
        (LEAD_SOURCE_VARIANTS, sources),
    ):
        emitted = {s for spellings in variants.values() for s in spellings}
        assert emitted <= seen, emitted - seen
        assert seen - emitted <= {""}, "only listed spellings (or blank) may appear"
    # the same person is spelled differently in different files
    for file in ("leads.csv", "booked_opportunities.csv", "jobs.csv", "lost_leads.csv", "user_performance.csv"):
        assert len(set(column(rows, file, "sales_person"))) > len(SALES_PERSON_VARIANTS), file


def test_status_words_vary_and_include_an_unknown_one(rows: dict[str, list[dict[str, str]]]) -> None:
    statuses = column(rows, "leads.csv", "status")
    folded = {s.strip().lower() for s in statuses}
    assert folded == {"new", "contacted", "quoted", "booked", "lost", "bad", "pending review"}
    assert any(s != s.strip() for s in statuses)
    assert any(s.isupper() for s in statuses) and any(s.istitle() for s in statuses)
    job_statuses = column(rows, "jobs.csv", "status")
    assert {s.strip().upper() for s in job_statuses} == {"BOOKED", "CLOSED", "CANCELLED"}
    assert any(s != s.upper() for s in job_statuses)


def test_dates_in_every_format_and_some_unparseable(rows: dict[str, list[dict[str, str]]]) -> None:
    values = (
        column(rows, "leads.csv", "created_at")
        + column(rows, "booked_opportunities.csv", "booked_at")
        + column(rows, "lost_leads.csv", "lost_at")
        + column(rows, "jobs.csv", "job_date")
    )
    assert any(ISO_DATE.fullmatch(v) for v in values)
    assert any(ISO_DATETIME.fullmatch(v) for v in values)
    assert any(US_DATE.fullmatch(v) for v in values)
    for file, col in (("leads.csv", "created_at"), ("booked_opportunities.csv", "booked_at"), ("jobs.csv", "job_date")):
        assert any(not parses_as_date(v) for v in column(rows, file, col)), f"{file}.{col}"


def test_money_in_both_formats_and_some_unparseable(
    small: tuple[Path, dict[str, int]], rows: dict[str, list[dict[str, str]]]
) -> None:
    amounts = column(rows, "booked_opportunities.csv", "estimated_amount")
    revenues = [v for v in column(rows, "jobs.csv", "revenue") if v]
    for values in (amounts, revenues):
        assert any(PLAIN_MONEY.fullmatch(v) for v in values)
        assert any(DOLLAR_MONEY.fullmatch(v) for v in values)
        assert any(not (PLAIN_MONEY.fullmatch(v) or DOLLAR_MONEY.fullmatch(v)) for v in values)
    assert '"$' in (small[0] / "booked_opportunities.csv").read_text(encoding="utf-8")


def test_contact_details_are_messy_but_link_repeat_customers(rows: dict[str, list[dict[str, str]]]) -> None:
    emails = column(rows, "leads.csv", "customer_email") + column(rows, "jobs.csv", "customer_email")
    assert any(e != e.strip() for e in emails)
    assert any(e.strip() != e.strip().lower() for e in emails)
    phones = column(rows, "leads.csv", "customer_phone")
    for name, pattern in PHONE_FORMATS.items():
        assert any(pattern.fullmatch(p) for p in phones), name
    # some leave the e-mail out (their customer resolves through the phone)
    assert any(not e for e in column(rows, "leads.csv", "customer_email"))
    assert any(not e for e in column(rows, "jobs.csv", "customer_email"))
    by_customer: dict[str, set[str]] = defaultdict(set)
    for r in rows["leads.csv"]:
        if r["customer_email"]:
            by_customer[r["customer_email"].strip().lower()].add(r["customer_phone"])
    repeat = {
        e: p
        for e, p in by_customer.items()
        if Counter(x["customer_email"].strip().lower() for x in rows["leads.csv"])[e] > 1
    }
    assert repeat, "some customers come back with another lead"
    multi = [p for p in repeat.values() if len(p) > 1]
    assert multi, "a repeat customer's number appears in several formats"
    for numbers in multi:
        assert len({re.sub(r"\D", "", n)[-7:] for n in numbers}) == 1
    regions = set(column(rows, "leads.csv", "region"))
    assert {"EU-DE", "EU-FR", "UK", "US-East", ""} == regions
    assert {"true", "false", "yes", "no", ""} <= set(column(rows, "leads.csv", "gdpr_consent"))


def test_orphan_quote_numbers_exist(rows: dict[str, list[dict[str, str]]]) -> None:
    leads = set(column(rows, "leads.csv", "quote_number"))
    for file in ("booked_opportunities.csv", "jobs.csv", "lost_leads.csv"):
        assert set(column(rows, file, "quote_number")) - leads, file


def test_a_lead_flagged_bad_is_later_booked(rows: dict[str, list[dict[str, str]]]) -> None:
    bad = set(column(rows, "bad_leads.csv", "quote_number"))
    assert bad & set(column(rows, "booked_opportunities.csv", "quote_number"))


def test_exact_duplicate_lines(small: tuple[Path, dict[str, int]]) -> None:
    for name in ("leads.csv", "booked_opportunities.csv", "jobs.csv"):
        lines = (small[0] / name).read_text(encoding="utf-8").splitlines()
        assert max(Counter(lines).values()) > 1, name


def test_events_fall_in_the_window(rows: dict[str, list[dict[str, str]]]) -> None:
    start = END - timedelta(days=DAYS)
    for file, col in (
        ("leads.csv", "created_at"),
        ("booked_opportunities.csv", "booked_at"),
        ("lost_leads.csv", "lost_at"),
        ("bad_leads.csv", "flagged_at"),
    ):
        days = [to_date(v) for v in column(rows, file, col) if parses_as_date(v)]
        assert days and start <= min(days) and max(days) <= END, file
    job_days = [to_date(v) for v in column(rows, "jobs.csv", "job_date") if parses_as_date(v)]
    assert start <= min(job_days) and END < max(job_days) <= END + timedelta(days=30)


def test_user_performance_is_one_row_per_person_per_working_day(
    rows: dict[str, list[dict[str, str]]],
) -> None:
    perf = rows["user_performance.csv"]
    assert all(int(r["calls_answered"]) <= int(r["calls_made"]) for r in perf)
    assert all(int(r["talk_minutes"]) >= 0 for r in perf)
    canonical = {s: name for name, spellings in SALES_PERSON_VARIANTS.items() for s in spellings}
    keys = Counter((canonical[r["sales_person"]], to_date(r["date"])) for r in perf)
    working_days = sum(1 for d in range(DAYS + 1) if (END - timedelta(days=d)).weekday() < 5)
    assert len(keys) == len(perf) == working_days * len(SALES_PERSON_VARIANTS)


def test_progress_reports_the_running_total(tmp_path: Path) -> None:
    seen: list[int] = []
    counts = generate_field_crm(tmp_path, leads=60_000, seed=1, end=END, progress=seen.append)
    assert seen and seen == sorted(seen)
    assert 100_000 <= seen[0] < 105_000
    assert seen[-1] <= sum(counts.values())


def _peak(out: Path, leads: int) -> int:
    tracemalloc.start()
    try:
        generate_field_crm(out, leads=leads, seed=3, end=END)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat(tmp_path: Path) -> None:
    small_peak = _peak(tmp_path / "small", 2_000)
    big_peak = _peak(tmp_path / "big", 20_000)
    assert big_peak < 2 * small_peak, (small_peak, big_peak)
