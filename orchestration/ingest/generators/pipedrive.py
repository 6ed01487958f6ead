"""Seeded, streaming synthetic generator for the Pipedrive export contract (the six CSV files).

The real export is small and private; this writes look-alike files of any size so the loader, dbt models
and benchmarks can run anywhere. Same arguments give byte-identical files, and memory stays flat however
many deals are asked for: deals are generated and written one at a time, keeping only O(1) state.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

# Static files, byte for byte as in the real export: no final newline, and fields.csv has CRLF line ends
# (the JSON label "Qualified Lead" differs in case from stages.csv's "Qualified lead" in the real data too).
_STATIC_FILES: dict[str, tuple[str, int]] = {
    "activity_types.csv": (
        "id,name,active,type\n1,Sales Call 1,Yes,meeting\n2,Sales Call 2,Yes,sc_2\n"
        "3,Follow Up Call,No,follow_up\n4,After Close Call,Yes,after_close_call",
        4,
    ),
    "stages.csv": (
        "stage_id,stage_name\n1,Lead Generation\n2,Qualified lead\n3,Needs Assessment\n"
        "4,Proposal/Quote Preparation\n5,Negotiation\n6,Closing\n7,Implementation/Onboarding\n"
        "8,Follow-up/Customer Success\n9,Renewal/Expansion",
        9,
    ),
    "fields.csv": (
        "ID,FIELD_KEY,NAME,FIELD_VALUE_OPTIONS\r\n13,add_time,Deal created,\r\n3,user_id,Owner,\r\n"
        '10,stage_id,Stage,"[{""id"": ""1"", ""label"": ""Lead Generation""},'
        '{""id"": ""2"", ""label"": ""Qualified Lead""},{""id"": ""3"", ""label"": ""Needs Assessment""},'
        '{""id"": ""4"", ""label"": ""Proposal/Quote Preparation""},'
        '{""id"": ""5"", ""label"": ""Negotiation""},'
        '{""id"": ""6"", ""label"": ""Closing""},{""id"": ""7"", ""label"": ""Implementation/Onboarding""},'
        '{""id"": ""8"", ""label"": ""Follow-up/Customer Success""},'
        '{""id"": ""9"", ""label"": ""Renewal/Expansion""}]"\r\n'
        '23,lost_reason,Lost reason,"[{""id"": ""1"", ""label"": ""Customer Not Ready""},'
        '{""id"": ""2"", ""label"": ""Pricing Issues""},{""id"": ""3"", ""label"": ""Unreachable Customer""},'
        '{""id"": ""4"", ""label"": ""Product Mismatch""},{""id"": ""5"", ""label"": ""Duplicate Entry""}]"',
        4,
    ),
}
DEAL_CHANGES_HEADER = ("deal_id", "change_time", "changed_field_key", "new_value")
ACTIVITY_HEADER = ("activity_id", "type", "assigned_to_user", "deal_id", "done", "due_to")
USERS_HEADER = ("id", "name", "email", "modified")

# Per stage, weights of [leave the funnel, move +1, +2, ...], measured on the real export's transitions:
# skips are common (1 -> 3), depth drops off to ~16% of deals reaching stage 9.
_STAGE_STEP_WEIGHTS: dict[int, tuple[int, ...]] = {
    1: (1, 74, 16, 6, 2, 1, 1),
    2: (3, 66, 18, 7, 3, 2, 1),
    3: (7, 54, 22, 10, 4, 3),
    4: (16, 44, 21, 11, 5, 3),
    5: (30, 36, 19, 9, 6),
    6: (46, 27, 18, 8),
    7: (61, 27, 12),
    8: (84, 16),
    9: (1,),
}
_ACTIVITY_TYPES = ("meeting", "sc_2", "follow_up", "after_close_call")
_LOST_RATE = 0.92  # most deals end lost (in the real export all do, even those in stage 9)
_SECOND_OWNER_RATE, _THIRD_OWNER_RATE = 0.25, 0.003  # owner re-assignments before stage 1, as in the export
_BACKWARD_RATE = 0.003  # per forward move from stage >= 3: a step back, then re-entry of the stages
_PAST_DONE_RATE = 0.6  # share of past-due activities marked done; future ones are never done
_OWNER_ACTIVITY_RATE = 0.85  # activities assigned to the deal owner, the rest to a colleague
_MAX_ACTIVITIES_PER_DEAL = 6
_MAX_ORPHAN_ACTIVITIES = 3
_PROGRESS_EVERY = 100_000
_BUFFER = 1 << 20

# fmt: off
_FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
    "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
    "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie",
    "Ronald", "Rebecca", "Jason", "Laura", "Jeffrey", "Sharon", "Ryan", "Cynthia", "Jacob", "Kathleen",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
)
# fmt: on
_NAME_PREFIXES = ("Mr.", "Mrs.", "Ms.", "Dr.")
_NAME_SUFFIXES = ("MD", "Jr.", "DDS", "PhD", "II", "DVM")
_EMAIL_LOCAL_PARTS = ("{first}{last}", "{first}{number}", "{initial}{last}", "{last}{first}")
_EMAIL_DOMAINS = ("example.org", "example.com")


def _cumulative(weights: tuple[int, ...]) -> tuple[float, ...]:
    total, running, out = sum(weights), 0, []
    for weight in weights:
        running += weight
        out.append(running / total)
    return tuple(out)


_STAGE_STEPS = {stage: _cumulative(weights) for stage, weights in _STAGE_STEP_WEIGHTS.items()}


class _IdSpace:
    """Bijective map from a running index to a random-looking id of fixed digit count.

    Streaming must not remember the ids handed out, yet must not collide by accident: an affine permutation
    of [0, span) gives both in O(1) memory. Six digits like the export while they suffice, more beyond.
    """

    def __init__(self, rng: random.Random, needed: int) -> None:
        self.low = 100_000
        while 9 * self.low < needed:
            self.low *= 10
        self.span = 9 * self.low
        mult = rng.randrange(self.span // 3, self.span)
        while mult % 2 == 0 or mult % 3 == 0 or mult % 5 == 0:  # span = 9 * 10^k: coprime to 2, 3 and 5
            mult += 1
        self.mult, self.shift = mult, rng.randrange(self.span)

    def __call__(self, index: int) -> str:
        return str(self.low + (self.mult * index + self.shift) % self.span)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Generator:
    """One generation run: the rng, the formatted calendar, the id spaces and the schedules of the mess."""

    def __init__(self, rng: random.Random, deals: int, end: date, days: int) -> None:
        self.rng, self.deals, self.last_day = rng, deals, days
        start = end - timedelta(days=days)
        # Day index -> "YYYY-MM-DD" for the window plus 30 days of future due dates: no per-row strftime.
        self.day = [(start + timedelta(days=i)).isoformat() for i in range(days + 31)]
        self.users = max(20, deals // 50)
        orphan_deals_max = deals // 50 + 1
        self.deal_ids = _IdSpace(rng, deals + orphan_deals_max)
        self.activity_ids = _IdSpace(rng, _MAX_ACTIVITIES_PER_DEAL * deals + _MAX_ORPHAN_ACTIVITIES * orphan_deals_max)
        self.activity_count = 0
        # Mess schedules, as "next index at which it happens", so small runs are sure to contain some.
        self.next_collision_mark = rng.randrange(200)  # this deal's id is reused by a later deal ...
        self.collision_reuse_at = -1  # ... at this index, with a creation time near the first one
        self.collision: tuple[str, int] = ("", 0)
        self.next_orphan = 1 + rng.randrange(100)  # activities for a deal absent from the change log
        self.orphans = 0
        self.next_reused_activity_id = 200 + rng.randrange(300)
        self.duplicated_lines = {rng.randrange(max(deals, 1)) for _ in range(2)}  # 1-2 exact duplicates

    def users_rows(self) -> Iterator[list[str]]:
        """Faker-style users, streamed; the owner ids of deals and activities are 1..self.users."""
        rng = self.rng
        for user_id in range(1, self.users + 1):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            name = f"{first} {last}"
            style = rng.random()
            if style < 0.03:
                name = f"{rng.choice(_NAME_PREFIXES)} {name}"
            elif style < 0.06:
                name = f"{name} {rng.choice(_NAME_SUFFIXES)}"
            # The export's emails do not derive from the user's own name: draw a fresh one.
            e_first, e_last = rng.choice(_FIRST_NAMES).lower(), rng.choice(_LAST_NAMES).lower()
            local = rng.choice(_EMAIL_LOCAL_PARTS).format(
                first=e_first, last=e_last, initial=e_first[0], number=rng.randrange(100)
            )
            modified = (
                f"{self.day[rng.randrange(self.last_day + 1)]} {_clock(rng.randrange(86400))}."
                f"{rng.randrange(1_000_000):06d}"
            )
            yield [str(user_id), name, f"{local}@{rng.choice(_EMAIL_DOMAINS)}", modified]

    def deal_rows(self, index: int) -> tuple[list[list[str]], list[list[str]]]:
        """The change log and the activities of deal number `index` (plus any mess scheduled there)."""
        rnd = self.rng.random
        deal_id, add_day = self.deal_ids(index), int(rnd() * (self.last_day + 1))
        if index == self.collision_reuse_at:  # a second lifecycle under an earlier deal's id, overlapping it
            deal_id = self.collision[0]
            add_day = min(max(self.collision[1] + int(rnd() * 81) - 40, 0), self.last_day)
            self.next_collision_mark = index + 200 + int(rnd() * 400)
        elif index == self.next_collision_mark:
            self.collision = (deal_id, add_day)
            self.collision_reuse_at = index + 20 + int(rnd() * 180)
        changes, end_day, owner = self._lifecycle(deal_id, add_day)
        activities = self._activities(deal_id, add_day, min(end_day + 14, self.last_day + 30), owner)
        if index in self.duplicated_lines:
            activities.append(activities[0])
        if index == self.next_orphan:
            self.next_orphan = index + 50 + int(rnd() * 100)
            orphan_id = self.deal_ids(self.deals + self.orphans)  # past the deals' indices: never logged
            self.orphans += 1
            orphan_owner = 1 + int(rnd() * self.users)
            activities += self._activities(orphan_id, 0, self.last_day, orphan_owner, _MAX_ORPHAN_ACTIVITIES)
        return changes, activities

    def _lifecycle(self, deal_id: str, add_day: int) -> tuple[list[list[str]], int, int]:
        """Creation, owner(s), a stage walk with skips and drop-off, mostly a lost reason; cut at the end.

        Changes fall on whole days after creation at the same clock time, as in the export. Returns the rows
        inside the window, the day the untruncated lifecycle ends and the final owner.
        """
        rnd, users = self.rng.random, self.users
        clock = _clock(int(rnd() * 86400))
        plan: list[tuple[str, str]] = []
        r = rnd()
        owner = 0
        for _ in range(1 + (r < _SECOND_OWNER_RATE) + (r < _THIRD_OWNER_RATE)):
            owner = 1 + int(rnd() * users)
            plan.append(("user_id", str(owner)))
        stage, stepped_back = 1, False
        plan.append(("stage_id", "1"))
        while True:
            r, step = rnd(), 0
            for threshold in _STAGE_STEPS[stage]:
                if r < threshold:
                    break
                step += 1
            if step == 0:
                break
            if not stepped_back and stage >= 3 and rnd() < _BACKWARD_RATE:
                stage -= 1 + (rnd() < 0.5)
                stepped_back = True
            else:
                stage += step
            plan.append(("stage_id", str(stage)))
        if rnd() < _LOST_RATE:
            plan.append(("lost_reason", str(1 + int(rnd() * 5))))

        day_str, last_day = self.day, self.last_day
        created = day_str[add_day]
        rows = [[deal_id, f"{created} {clock}", "add_time", f"{created}T{clock}"]]
        day = add_day
        for key, value in plan:
            day += 1 + int(rnd() * 30)
            if day <= last_day:
                rows.append([deal_id, f"{day_str[day]} {clock}", key, value])
        return rows, day, owner

    def _activities(
        self, deal_id: str, first_day: int, last_day: int, owner: int, most: int = _MAX_ACTIVITIES_PER_DEAL
    ) -> list[list[str]]:
        """Two to `most` activities due between the two days; done only if past and then not always."""
        rnd, day_str, window_end = self.rng.random, self.day, self.last_day
        span = last_day - first_day + 1
        rows = []
        for _ in range(2 + int(rnd() * (most - 1))):
            due = first_day + int(rnd() * span)
            done = "True" if due <= window_end and rnd() < _PAST_DONE_RATE else "False"
            user = owner if rnd() < _OWNER_ACTIVITY_RATE else 1 + int(rnd() * self.users)
            number = self.activity_count
            self.activity_count += 1
            if number == self.next_reused_activity_id:  # an older activity's id, on another deal
                number -= 10 + int(rnd() * 190)
                self.next_reused_activity_id = self.activity_count + 200 + int(rnd() * 400)
            rows.append(
                [
                    self.activity_ids(number),
                    _ACTIVITY_TYPES[int(rnd() * 4)],
                    str(user),
                    deal_id,
                    done,
                    f"{day_str[due]}T{_clock(int(rnd() * 86400))}",
                ]
            )
        return rows


def generate_pipedrive(
    out_dir: Path,
    *,
    deals: int = 2000,
    seed: int = 42,
    end: date | None = None,
    days: int = 540,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the six files into out_dir (created if missing); return data rows written per file name.

    Event times fall in [end - days, end] (end defaults to today); activities may be due up to 30 days
    later. `progress` gets the running row total about every 100k rows, and the final total.
    """
    if deals < 0 or days < 1:
        raise ValueError("deals must be >= 0 and days >= 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, (text, rows) in _STATIC_FILES.items():
        (out_dir / name).write_text(text, encoding="utf-8", newline="")
        counts[name] = rows

    gen = _Generator(random.Random(seed), deals, end or date.today(), days)
    with open(out_dir / "users.csv", "w", encoding="utf-8", newline="") as users_file:
        writer = csv.writer(users_file, lineterminator="\n")
        writer.writerow(USERS_HEADER)
        writer.writerows(gen.users_rows())
    counts["users.csv"] = gen.users

    total = sum(counts.values())
    next_report = _PROGRESS_EVERY
    n_changes = n_activities = 0
    with (
        open(out_dir / "deal_changes.csv", "w", encoding="utf-8", newline="", buffering=_BUFFER) as changes,
        open(out_dir / "activity.csv", "w", encoding="utf-8", newline="", buffering=_BUFFER) as activity,
    ):
        changes_writer = csv.writer(changes, lineterminator="\n")
        activity_writer = csv.writer(activity, lineterminator="\n")
        changes_writer.writerow(DEAL_CHANGES_HEADER)
        activity_writer.writerow(ACTIVITY_HEADER)
        for index in range(deals):
            change_rows, activity_rows = gen.deal_rows(index)
            changes_writer.writerows(change_rows)
            activity_writer.writerows(activity_rows)
            n_changes += len(change_rows)
            n_activities += len(activity_rows)
            total += len(change_rows) + len(activity_rows)
            if progress is not None and total >= next_report:
                progress(total)
                next_report = (total // _PROGRESS_EVERY + 1) * _PROGRESS_EVERY
    counts["deal_changes.csv"] = n_changes
    counts["activity.csv"] = n_activities
    if progress is not None:
        progress(total)
    return counts
