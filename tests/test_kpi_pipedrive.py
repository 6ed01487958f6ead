"""The Pipedrive KPI definitions on a hand-written export, every expected value worked out by hand below.

Five deals (UTC, source_dt 2024-02-29; stages 7-9 are the won stages of seed pipedrive_stage_probabilities):

- 100  stage 1 (Jan 2 09:00) -> 3 (Jan 5, skips 2) -> 7 (Jan 10: won) ; lost reason Feb 1 (after the win)
- 200  stage 1 (Jan 3 10:00) -> 2 (Jan 7) ; lost reason Jan 9 10:00                       -> lost
- 300  stage 1 (Jan 4 11:00) ; lost reason Jan 6 ; stage 8 (Jan 8 11:00: revived and won)  -> won
- 400  stage 1 (Jan 5 12:00) -> 2 (Jan 6)                                                  -> open
- 500  an id the export reused for two deals (two add_times, histories interleaved; each change carries its
       creation's time of day): episode 1 created Jan 2 08:00, owner 10, stage 1 (Jan 3) -> 2 (Jan 6),
       lost Jan 9 08:00; episode 2 created Jan 4 20:30, owner 11, stage 1 (Jan 5) -> 2 (Jan 7), open.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Warehouse, make_warehouse

from orchestration.core.settings import Connection
from orchestration.ingest.generators.pipedrive import generate_pipedrive

SOURCE_DT = "2024-02-29"
DEAL_CHANGES = """deal_id,change_time,changed_field_key,new_value
100,2024-01-01 09:00:00,add_time,2024-01-01T09:00:00
100,2024-01-01 09:00:00,user_id,10
100,2024-01-02 09:00:00,stage_id,1
100,2024-01-05 09:00:00,stage_id,3
100,2024-01-10 09:00:00,stage_id,7
100,2024-02-01 09:00:00,lost_reason,1
200,2024-01-03 10:00:00,add_time,2024-01-03T10:00:00
200,2024-01-03 10:00:00,stage_id,1
200,2024-01-07 10:00:00,stage_id,2
200,2024-01-09 10:00:00,lost_reason,2
300,2024-01-04 11:00:00,add_time,2024-01-04T11:00:00
300,2024-01-04 11:00:00,stage_id,1
300,2024-01-06 11:00:00,lost_reason,1
300,2024-01-08 11:00:00,stage_id,8
400,2024-01-05 12:00:00,add_time,2024-01-05T12:00:00
400,2024-01-05 12:00:00,stage_id,1
400,2024-01-06 12:00:00,stage_id,2
500,2024-01-02 08:00:00,add_time,2024-01-02T08:00:00
500,2024-01-02 08:00:00,user_id,10
500,2024-01-03 08:00:00,stage_id,1
500,2024-01-04 20:30:00,add_time,2024-01-04T20:30:00
500,2024-01-04 20:30:00,user_id,11
500,2024-01-05 20:30:00,stage_id,1
500,2024-01-06 08:00:00,stage_id,2
500,2024-01-07 20:30:00,stage_id,2
500,2024-01-09 08:00:00,lost_reason,1
"""
ACTIVITY = (
    "activity_id,type,assigned_to_user,deal_id,done,due_to\n1,meeting,10,100,True,2024-01-03T09:00:00\n"
    "2,meeting,11,400,False,2024-01-03T09:00:00\n"  # due before its deal's first change (Jan 5 12:00)
    "3,meeting,11,999,False,2024-01-03T09:00:00\n"  # a deal the change log never knows
)
USERS = (
    "id,name,email,modified\n10,Ada Owner,ada@example.com,2024-01-01 00:00:00\n"
    "11,Bo Owner,bo@example.com,2024-01-01 00:00:00\n"
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write_export(folder: Path, deal_changes: str) -> Path:
    """The generator's reference files (stages, activity types, fields), with hand-written deals and users."""
    generate_pipedrive(folder, deals=1, seed=1, end=date(2024, 2, 29), days=30)
    (folder / "deal_changes.csv").write_text(deal_changes)
    (folder / "activity.csv").write_text(ACTIVITY)
    (folder / "users.csv").write_text(USERS)
    return folder


@pytest.fixture(scope="module")
def built(server: Connection, tmp_path_factory: pytest.TempPathFactory):
    for wh in make_warehouse(server, "kpi_pipedrive"):
        wh.load(write_export(tmp_path_factory.mktemp("kpi") / "export", DEAL_CHANGES), "pipedrive")
        wh.dbt("build", "--full-refresh", variables={"source_dt": SOURCE_DT})  # every test must pass
        yield wh


def deals(wh: Warehouse) -> dict[str, tuple[object, ...]]:
    rows = wh.query(
        "select deal_episode_key, deal_status, won_at, lost_at, has_lost_reason_after_won, created_at"
        " from dev_intermediate.int_deals_consolidated"
    )
    return {str(row[0]): tuple(row[1:]) for row in rows}


def test_won_is_the_first_entry_into_a_won_stage_and_a_later_lost_reason_keeps_it(built) -> None:
    assert deals(built) == {
        "100": ("won", utc("2024-01-10 09:00:00"), None, True, utc("2024-01-01 09:00:00")),
        "200": ("lost", None, utc("2024-01-09 10:00:00"), False, utc("2024-01-03 10:00:00")),
        "300": ("won", utc("2024-01-08 11:00:00"), None, False, utc("2024-01-04 11:00:00")),
        "400": ("open", None, None, False, utc("2024-01-05 12:00:00")),
        "500": ("lost", None, utc("2024-01-09 08:00:00"), False, utc("2024-01-02 08:00:00")),
        "500-2": ("open", None, None, False, utc("2024-01-04 20:30:00")),
    }
    # won 100 and 300, lost 200 and 500 (episode 1), all in the 90 days before source_dt: 2 / 4
    rate = built.scalar(
        "select win_rate_by_count from dev_marts.pipeline_velocity_daily where date_day = %s limit 1", (SOURCE_DT,)
    )
    assert rate == Decimal("0.5000")


def test_the_outcome_rule_is_a_seed(built) -> None:
    """With `lost`, a lost reason after the win makes deal 100 lost at that reason; 300 (lost before) stays won.
    A changed seed reaches a keyed model with a full refresh (what `funnel build` runs after a seed edit)."""
    built.query("update dev_seeds.pipedrive_outcome_rules set lost_reason_after_won = 'lost'")
    rebuild = ("run", "--full-refresh", "--select", "int_deals_consolidated")
    try:
        built.dbt(*rebuild, variables={"source_dt": SOURCE_DT})
        outcome = deals(built)
        assert outcome["100"][:3] == ("lost", None, utc("2024-02-01 09:00:00"))
        assert outcome["300"][:3] == ("won", utc("2024-01-08 11:00:00"), None)
    finally:
        built.query("update dev_seeds.pipedrive_outcome_rules set lost_reason_after_won = 'keep_won'")
        built.dbt(*rebuild, variables={"source_dt": SOURCE_DT})


def test_a_reused_deal_id_is_two_episodes_with_their_own_timelines_and_owners(built) -> None:
    rows = built.query(
        "select deal_episode_key, to_stage_id, owner_user_id, days_in_previous_stage, is_reentry, is_backward_move"
        " from dev_marts.fct_deal_stage_transitions where deal_id = 500 order by deal_episode, transition_number"
    )
    assert rows == [
        ("500", 1, 10, None, False, False),
        ("500", 2, 10, Decimal("3.0000"), False, False),
        ("500-2", 1, 11, None, False, False),
        ("500-2", 2, 11, Decimal("2.0000"), False, False),
    ]
    assert built.scalar("select count(*) from dev_marts.fct_deal_stage_transitions where is_reentry") == 0
    # the funnel still counts deal ids: 500 reached step 1 in January once, as did the other four
    assert (
        built.scalar(
            "select deals_count from dev_marts.rep_sales_funnel_monthly"
            " where month = '2024-01-01' and funnel_step = '1'"
        )
        == 5
    )


def test_days_in_stage_are_reported_on_the_stage_left(built) -> None:
    rows = built.query(
        "select date_day, stage_id, transitions_out_count, days_in_stage_left_sum, avg_days_in_stage_left"
        " from dev_marts.pipeline_velocity_daily where transitions_out_count > 0 order by date_day, stage_id"
    )
    assert rows == [
        (date(2024, 1, 5), 1, 1, Decimal("3.0000"), Decimal("3.0000")),  # 100 left 1 for 3
        (date(2024, 1, 6), 1, 2, Decimal("4.0000"), Decimal("2.0000")),  # 400 (1 day), 500 (3 days)
        (date(2024, 1, 7), 1, 2, Decimal("6.0000"), Decimal("3.0000")),  # 200 (4 days), 500-2 (2 days)
        (date(2024, 1, 8), 1, 1, Decimal("4.0000"), Decimal("4.0000")),  # 300 moved to 8 after 4 days
        (date(2024, 1, 9), 2, 2, Decimal("5.0000"), Decimal("2.5000")),  # 200 (2), 500 (3): lost in 2
        (date(2024, 1, 10), 3, 1, Decimal("5.0000"), Decimal("5.0000")),  # 100 from 3 to 7
        (date(2024, 2, 1), 7, 1, Decimal("22.0000"), Decimal("22.0000")),  # 100's lost reason ends its stay
    ]


def test_cohort_reach_counts_the_step_or_any_later_one(built) -> None:
    """January's cohort is the 5 deal ids. 100 skipped 2 (reached 7), 300 skipped 2-7 (reached 8): both have
    passed every step before their furthest one; 200, 400 and 500 stopped at 2."""
    rows = built.query(
        "select funnel_step, deals_reached_count, previous_step_deals_count, conversion_rate"
        " from dev_marts.funnel_cohort_monthly where cohort_month = '2024-01-01' order by step_order"
    )
    assert rows == [
        ("1", 5, 5, Decimal("1.0000")),
        ("2", 5, 5, Decimal("1.0000")),
        ("2.1", 2, 5, Decimal("0.4000")),
        ("3", 2, 5, Decimal("0.4000")),
        ("3.1", 2, 2, Decimal("1.0000")),
        ("4", 2, 2, Decimal("1.0000")),
        ("5", 2, 2, Decimal("1.0000")),
        ("6", 2, 2, Decimal("1.0000")),
        ("7", 2, 2, Decimal("1.0000")),
        ("8", 1, 2, Decimal("0.5000")),
        ("9", 0, 1, Decimal("0.0000")),
    ]


def test_a_past_dated_run_keeps_later_history_and_a_full_refresh_resets_it(built) -> None:
    """Also whether an activity's deal is in the change log, as of source_dt: deal 400's first change is on Jan 5,
    so its activity 2 is not as of Jan 4 and is as of Jan 5, after a full refresh or the keyed run that moves the
    date; deal 999 (activity 3) never has a change, deal 100 (activity 1) has from Jan 1."""
    table = "select count(*) from dev_marts.fct_deal_stage_transitions"
    activities = "select activity_id, is_deal_in_change_log from dev_marts.fct_activities order by activity_id"
    assert built.scalar(table) == 13
    assert built.query(activities) == [(1, True), (2, True), (3, False)]
    rebuilt = ["--select", "+fct_deal_stage_transitions", "+fct_activities"]
    built.dbt("run", *rebuilt, variables={"source_dt": "2024-01-04"})
    assert built.scalar(table) == 13, "a backfill removed later history"
    assert deals(built)["100"][0] == "won"
    # a full refresh at Jan 4 is as of Jan 4: the stage entries up to its end (100, 200, 300 and 500 at 1)
    built.dbt("run", "--full-refresh", *rebuilt, variables={"source_dt": "2024-01-04"})
    assert built.scalar(table) == 4
    assert built.query(activities) == [(1, True), (2, False), (3, False)]
    built.dbt("run", *rebuilt, variables={"source_dt": "2024-01-05"})
    mode = "select mode from dev_intermediate.funnel_keyed_state where relation_name = 'dev_marts.fct_activities'"
    assert built.scalar(mode) == "keys"
    assert built.query(activities) == [(1, True), (2, True), (3, False)]
    built.dbt("run", "--full-refresh", *rebuilt, variables={"source_dt": SOURCE_DT})
    assert built.scalar(table) == 13


def test_a_degenerate_win_rate_warns(server: Connection, tmp_path: Path) -> None:
    """20 deals, every one lost: a year of closed deals without a single win."""
    changes = "deal_id,change_time,changed_field_key,new_value\n" + "".join(
        f"{n},2024-01-{n:02d} 09:00:00,add_time,2024-01-{n:02d}T09:00:00\n"
        f"{n},2024-01-{n:02d} 09:00:00,stage_id,1\n"
        f"{n},2024-01-{n + 1:02d} 09:00:00,lost_reason,2\n"
        for n in range(1, 21)
    )
    for wh in make_warehouse(server, "kpi_degenerate"):
        wh.load(write_export(tmp_path / "export", changes), "pipedrive")
        out = wh.dbt("build", variables={"source_dt": SOURCE_DT})
        assert "WARN 1 assert_deal_outcomes_not_degenerate" in out
