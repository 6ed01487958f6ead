"""Synthetic export of a field-service CRM (movers/installers): leads, quotes, bookings, jobs and call stats.

The pipeline has to be exercised on data as messy as real exports (names spelled several ways, mixed date and
money formats, orphans, duplicates, unparseable values) at any volume, and reproducibly: the output is a pure
function of the arguments (one ``random.Random(seed)``), and rows are streamed, so memory stays flat however
many leads are asked for. Every mess form is also planted in the first leads (``_SHOWCASE``,
``_SOURCE_ROLL_CALL``), so even a run of 200 leads exercises each one, whatever the seed.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple, TypeVar

from orchestration.core.contracts import source_tables
from orchestration.ingest.generators.field_crm_vocabulary import (
    BRANCH_VARIANTS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    LEAD_SOURCE_VARIANTS,
    RARE_SOURCE,
    SALES_PERSON_VARIANTS,
)

_T = TypeVar("_T")


class _Branch(NamedTuple):
    """A branch, its two sales people, and where its customers live and how their numbers are dialled."""

    people: tuple[str, str]
    region: str
    country_code: str
    trunk: str  # national dialling prefix: "0" in Europe, none in the US
    area: str
    subscriber_digits: int
    cities: tuple[str, ...]


_BRANCHES: dict[str, _Branch] = {
    "Berlin Mitte": _Branch(
        ("Jörg Müller", "Anna Schmidt"), "EU-DE", "49", "0", "30", 7, ("Berlin", "Potsdam", "Leipzig", "Dresden")
    ),
    "Hamburg Altona": _Branch(
        ("Lukas Becker", "Mehmet Yilmaz"), "EU-DE", "49", "0", "40", 7, ("Hamburg", "Kiel", "Lübeck", "Bremen")
    ),
    "Paris Nord": _Branch(
        ("Marie Dubois", "Julien Moreau"), "EU-FR", "33", "0", "1", 8, ("Paris", "Saint-Denis", "Lille", "Amiens")
    ),
    "Lyon Centre": _Branch(
        ("Camille Laurent", "Hélène Petit"),
        "EU-FR",
        "33",
        "0",
        "4",
        8,
        ("Lyon", "Villeurbanne", "Grenoble", "Saint-Étienne"),
    ),
    "London East": _Branch(
        ("John Smith", "Emily Clarke"), "UK", "44", "0", "20", 8, ("London", "Stratford", "Romford", "Cambridge")
    ),
    "Boston Metro": _Branch(
        ("Michael O'Connor", "Sarah Johnson"),
        "US-East",
        "1",
        "",
        "617",
        7,
        ("Boston", "Cambridge", "Quincy", "Worcester"),
    ),
}
_BAD_REASONS = ("duplicate", "spam", "fake contact details", "test lead", "out of service area", "Duplicate")
_LOST_REASONS = (
    "Price too high",
    "Chose competitor",
    "No response",
    "Date not available",
    "Move cancelled",
    "price",
    "",
)
_GDPR_EU = ("true",) * 5 + ("false",) * 2 + ("yes", "no", "", "TRUE", "Yes")
_GDPR_US = ("",) * 5 + ("true", "false", "yes", "no")
_GARBAGE_DATES = ("31/31/2024", "2024-02-30", "13/45/2023")
_GARBAGE_AMOUNTS = ("n/a", "TBD", "#VALUE!")

_REPEAT_POOL = 1000  # recent customers kept for repeat leads: bounds memory whatever the lead count
_PROGRESS_EVERY = 100_000
_MAX_JOB_DELAY = 30  # days from booking to job: scheduled jobs may fall up to this far after `end`

# Lead index -> (forced outcome, planted mess forms): each form shows up even in a run of a few hundred leads.
_SHOWCASE: dict[int, tuple[str, frozenset[str]]] = {
    5: ("booked", frozenset({"bad"})),
    9: ("booked", frozenset({"orphan"})),
    12: ("lost", frozenset({"orphan"})),
    15: ("booked", frozenset({"dup"})),
    20: ("booked", frozenset({"garbage"})),
    24: ("lost", frozenset({"rare_source", "unknown_status"})),
}
_NO_SHOW: tuple[str, frozenset[str]] = ("", frozenset())
# Every drawn lead-source spelling as (source index, spelling), each carried by one early lead's row.
_SOURCE_ROLL_CALL: tuple[tuple[int, str], ...] = tuple(
    (k, s) for k, spellings in enumerate(LEAD_SOURCE_VARIANTS.values()) for s in spellings if s != RARE_SOURCE
)
_ROLL_CALL_FIRST = 30
_PLANTED = _ROLL_CALL_FIRST + len(_SOURCE_ROLL_CALL)  # leads below this index are never orphaned at random


def _pool(variants: tuple[str, ...], canonical_weight: int) -> tuple[str, ...]:
    """Weighted draw list: the first (canonical) spelling dominates, each other spelling appears once."""
    return (variants[0],) * canonical_weight + variants[1:]


def _spelling_pool(variants: tuple[str, ...]) -> tuple[str, ...]:
    """About 75% canonical, the rest spread evenly over the alternative spellings (the rare one left out)."""
    drawn = tuple(v for v in variants if v != RARE_SOURCE)
    return _pool(drawn, 3 * (len(drawn) - 1))


def _case_pool(word: str) -> tuple[str, ...]:
    """A status word in its canonical case ~73% of the time, else Title case, flipped case or padded."""
    flipped = word.lower() if word.isupper() else word.upper()
    return _pool((word, word.title(), flipped, f" {word.lower()} "), 8)


class _Customer(NamedTuple):
    """A customer as the CRM stores them; repeat leads reuse it, and each row re-spells email and phone."""

    name: str
    email: str
    branch: int
    subscriber: str
    city: str


class _Lead(NamedTuple):
    """What a lead's rows in every file share; its spellings are drawn anew for each row."""

    quote: str
    day: int  # days after the window start
    customer: _Customer
    person: tuple[str, ...]  # spelling pool of the assigned sales person
    source: tuple[str, ...]  # spelling pool of the lead source
    destination: str
    garbage: bool  # plant unparseable dates and amounts in every row of this lead
    dup: bool  # write every row of this lead twice


class _Run:
    """One generation run: the RNG, the precomputed pools and the open writers; O(people + pool) state."""

    def __init__(self, rng: random.Random, start: date, days: int, leads: int, write: dict[str, Callable]) -> None:
        self.rand = rand = rng.random

        def pick(pool: Sequence[_T]) -> _T:
            """``rng.choice`` without its overhead: it is the hottest call of a run."""
            return pool[int(rand() * len(pool))]

        self.pick = pick
        self.days = days
        self.leads = leads
        self.write = write
        self.counts = dict.fromkeys(write, 0)
        self.weekday0 = start.weekday()
        span = [start + timedelta(days=d) for d in range(days + _MAX_JOB_DELAY + 1)]
        self.iso = [d.isoformat() for d in span]
        self.us = [f"{d.month:02d}/{d.day:02d}/{d.year}" for d in span]
        self.times = [f"{h:02d}:{m:02d}:00" for h in range(7, 20) for m in range(60)]
        self.branches = list(_BRANCHES.values())
        self.branch_pools = [_spelling_pool(BRANCH_VARIANTS[b]) for b in _BRANCHES]
        self.person_pools = [[_spelling_pool(SALES_PERSON_VARIANTS[p]) for p in b.people] for b in self.branches]
        self.source_pools = [_spelling_pool(v) for v in LEAD_SOURCE_VARIANTS.values()]
        statuses = ("new", "contacted", "quoted", "booked", "lost", "bad", "pending review")
        self.status = {s: _case_pool(s) for s in statuses}
        self.job_status = {s: _case_pool(s) for s in ("BOOKED", "CLOSED", "CANCELLED")}
        self.customers: list[_Customer] = []
        self.serial = 0
        self.opportunities = 0

    def stamp(self, d: int, garbage: bool = False) -> str:
        """An event time: ISO date (70%), ISO datetime (15%) or MM/DD/YYYY (15%); unparseable if garbage."""
        if garbage:
            return self.pick(_GARBAGE_DATES)
        x = self.rand()
        if x < 0.7:
            return self.iso[d]
        if x < 0.85:
            return f"{self.iso[d]}T{self.pick(self.times)}"
        return self.us[d]

    def day(self, d: int, garbage: bool = False) -> str:
        """A calendar day: ISO (85%) or MM/DD/YYYY (15%); unparseable if garbage."""
        if garbage:
            return self.pick(_GARBAGE_DATES)
        return self.iso[d] if self.rand() < 0.85 else self.us[d]

    def money(self, cents: int, garbage: bool = False) -> str:
        """``1234.5`` (70%) or ``$1,234.50`` (30%); unparseable if garbage."""
        if garbage:
            return self.pick(_GARBAGE_AMOUNTS)
        return repr(cents / 100) if self.rand() < 0.7 else f"${cents / 100:,.2f}"

    def email(self, email: str) -> str:
        """As stored (80%), Title-cased, upper-cased, padded with spaces, or left out (1.5%: such a lead's
        customer resolves through its phone, a booking's or job's through its quote's lead)."""
        x = self.rand()
        if x < 0.8:
            return email
        if x < 0.88:
            return email.title()
        if x < 0.92:
            return email.upper()
        if x < 0.96:
            return f" {email}"
        return f"{email.title()}  " if x < 0.985 else ""

    def phone(self, c: _Customer) -> str:
        """One number, four ways: +49 30 1234567 / 030-1234567 / (030) 123 4567 / 0049301234567."""
        b = self.branches[c.branch]
        sub = c.subscriber
        x = self.rand()
        if x < 0.25:
            return f"+{b.country_code} {b.area} {sub}"
        if x < 0.5:
            return f"{b.trunk}{b.area}-{sub}"
        if x < 0.75:
            return f"({b.trunk}{b.area}) {sub[:3]} {sub[3:]}"
        return f"00{b.country_code}{b.area}{sub}"

    def customer(self) -> _Customer:
        """A repeat customer from the recent pool (10%), else a new one that joins the pool."""
        pool = self.customers
        if pool and self.rand() < 0.1:
            return self.pick(pool)
        self.serial += 1
        first, last = self.pick(FIRST_NAMES), self.pick(LAST_NAMES)
        b = int(self.rand() * len(self.branches))
        digits = self.branches[b].subscriber_digits
        subscriber = str(10 ** (digits - 1) + int(self.rand() * 9 * 10 ** (digits - 1)))
        email = f"{first}.{last}{self.serial}@{self.pick(EMAIL_DOMAINS)}".lower()
        c = _Customer(f"{first} {last}", email, b, subscriber, self.pick(self.branches[b].cities))
        if len(pool) < _REPEAT_POOL:
            pool.append(c)
        else:
            pool[self.serial % _REPEAT_POOL] = c
        return c

    def emit(self, file: str, row: tuple, dup: bool) -> None:
        """Write one row; a duplicated lead repeats each of its rows verbatim (an overlapping re-export)."""
        write = self.write[file]
        write(row)
        if dup:
            write(row)
        self.counts[file] += 1 + dup

    def lead(self, i: int) -> None:
        """Write lead i and whatever its lifecycle produces: a bad flag, a loss, or a booking and its job."""
        rand, pick = self.rand, self.pick
        outcome, forms = _SHOWCASE.get(i, _NO_SHOW)
        day = i * (self.days + 1) // self.leads
        age = self.days - day
        cust = self.customer()
        branch = self.branches[cust.branch]
        people = self.person_pools[cust.branch]
        x = rand()
        dest = pick(branch.cities) if x < 0.9 else pick(self.branches).cities[0] if x < 0.95 else ""
        roll = i - _ROLL_CALL_FIRST
        if 0 <= roll < len(_SOURCE_ROLL_CALL):
            k, spelled = _SOURCE_ROLL_CALL[roll]
        else:
            k, spelled = int(rand() * len(self.source_pools)), ""
        lead = _Lead(
            f"Q-{i + 1:06d}",
            day,
            cust,
            pick(people),
            self.source_pools[k],
            dest,
            "garbage" in forms,
            "dup" in forms or rand() < 0.003,
        )
        if "rare_source" in forms or rand() < 0.0005:
            source = RARE_SOURCE
        else:
            source = spelled or (pick(lead.source) if rand() < 0.98 else "")

        bad = "bad" in forms or rand() < 0.04
        if outcome:
            booked, lost = outcome == "booked", outcome == "lost"
        elif age < 2:
            booked = lost = False
        else:
            booked = rand() < (0.1 if bad else 0.32)
            lost = not booked and not bad and rand() < 0.55
        if "unknown_status" in forms or rand() < 0.002:
            status = "pending review"
        elif booked or lost:
            status = "booked" if booked else "lost"
        elif bad:
            status = "bad"
        else:
            status = ("new", "contacted", "quoted", "quoted")[int(rand() * (4 if age > 7 else 2))]

        # An orphan's lead row was deleted in the CRM while its booking or loss stayed in the export.
        if not ("orphan" in forms or (i >= _PLANTED and (booked or lost) and rand() < 0.005)):
            self.lead_rows(f"L{i + 1:07d}", lead, status, source, bad)
        if lost:
            lost_day = min(day + 1 + int(rand() * 60), self.days)
            self.emit(
                "lost_leads.csv",
                (
                    lead.quote,
                    pick(_LOST_REASONS),
                    self.stamp(lost_day, lead.garbage or rand() < 0.002),
                    pick(lead.person),
                    pick(self.branch_pools[cust.branch]),
                ),
                lead.dup,
            )
        if booked:
            self.booking(lead, force_job=bool(outcome))

    def lead_rows(self, lead_id: str, lead: _Lead, status: str, source: str, bad: bool) -> None:
        """The leads.csv row and, for a flagged lead, its bad_leads.csv row."""
        rand, pick, cust = self.rand, self.pick, lead.customer
        branch = self.branches[cust.branch]
        self.emit(
            "leads.csv",
            (
                lead_id,
                lead.quote,
                self.stamp(lead.day, lead.garbage or rand() < 0.002),
                pick(self.status[status]),
                source,
                pick(self.branch_pools[cust.branch]),
                pick(lead.person),
                cust.name,
                self.email(cust.email),
                self.phone(cust),
                cust.city,
                lead.destination,
                branch.region if rand() < 0.97 else "",
                pick(_GDPR_US if branch.region == "US-East" else _GDPR_EU),
            ),
            lead.dup,
        )
        if bad:
            flagged = self.stamp(min(lead.day + int(rand() * 4), self.days))
            self.emit("bad_leads.csv", (lead_id, lead.quote, pick(_BAD_REASONS), flagged), lead.dup)

    def booking(self, lead: _Lead, force_job: bool) -> None:
        """The opportunity for a booked quote and, for most, the job that follows it."""
        rand, pick, cust = self.rand, self.pick, lead.customer
        self.opportunities += 1
        booked_day = min(lead.day + int(rand() * 21), self.days)
        cents = 40_000 + int(rand() * 560_000)
        self.emit(
            "booked_opportunities.csv",
            (
                f"OPP-{self.opportunities:07d}",
                lead.quote,
                self.stamp(booked_day, lead.garbage or rand() < 0.002),
                self.money(cents, lead.garbage or rand() < 0.004),
                pick(lead.person),
                pick(self.branch_pools[cust.branch]),
                pick(lead.source),
                self.email(cust.email),
            ),
            lead.dup,
        )
        if not force_job and rand() >= 0.9:
            return
        job_day = booked_day + 1 + int(rand() * _MAX_JOB_DELAY)
        x = rand()
        if job_day > self.days or x < 0.03:  # scheduled, or done but never closed in the CRM
            status, revenue = "BOOKED", ""
        elif x < 0.9:
            status, revenue = "CLOSED", self.money(int(cents * (0.85 + 0.4 * rand())), rand() < 0.004)
        else:
            status, revenue = "CANCELLED", "" if rand() < 0.5 else "0"
        self.emit(
            "jobs.csv",
            (
                f"J-{self.opportunities:07d}",
                lead.quote,
                self.day(job_day, lead.garbage or rand() < 0.002),
                pick(self.job_status[status]),
                pick(_GARBAGE_AMOUNTS) if lead.garbage else revenue,
                pick(lead.person),
                pick(self.branch_pools[cust.branch]),
                self.email(cust.email),
                cust.city,
                lead.destination,
            ),
            lead.dup,
        )

    def performance(self) -> None:
        """Daily call metrics: one row per sales person per working day, whatever the lead count."""
        rand, pick, write = self.rand, self.pick, self.write["user_performance.csv"]
        for d in range(self.days + 1):
            if (self.weekday0 + d) % 7 >= 5:
                continue
            for b, people in enumerate(self.person_pools):
                for person in people:
                    made = 20 + int(rand() * 60)
                    answered = int(made * (0.3 + 0.45 * rand()))
                    talk = answered * 3 + int(rand() * answered * 3)
                    write((pick(person), self.day(d), made, answered, talk, pick(self.branch_pools[b])))
                    self.counts["user_performance.csv"] += 1


def generate_field_crm(
    out_dir: Path,
    *,
    leads: int = 5000,
    seed: int = 42,
    end: date | None = None,
    days: int = 540,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the six files into out_dir (created if missing); return data rows written per file name."""
    end = end or date.today()
    out_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        write: dict[str, Callable] = {}
        for table in source_tables("field_crm"):
            f = stack.enter_context(
                (out_dir / table.file_name).open("w", encoding="utf-8", newline="", buffering=1 << 20)
            )
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(table.columns)
            write[table.file_name] = writer.writerow
        run = _Run(random.Random(seed), end - timedelta(days=days), days, leads, write)
        next_report = _PROGRESS_EVERY
        for i in range(leads):
            run.lead(i)
            if progress and not i & 1023 and (total := sum(run.counts.values())) >= next_report:
                progress(total)
                next_report = total - total % _PROGRESS_EVERY + _PROGRESS_EVERY
        run.performance()
    return run.counts
