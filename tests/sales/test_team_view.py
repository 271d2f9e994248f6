"""What the Roll-up page and the board pack read of the team roll-up (`sales.team_view`), on
the hand-computed company of tests/cases/rollup.py."""

from datetime import date

import pytest

from sales.boardpack.sections import track_record
from sales.hierarchy import hierarchy_at
from sales.periods import parse_period
from sales.settings import load_settings
from sales.team_rollup import team_rollup
from sales.team_view import (
    call_targets,
    home_of,
    included_deals,
    rollup_frame,
    top_call_keys,
    without_adjustment,
)
from sales.view import View
from tests.cases import rollup as case


@pytest.fixture
def con(tmp_path):
    con = case.build(tmp_path / "company.duckdb")
    yield con
    con.close()


def test_the_rows_and_the_number_without_adjustments(con):
    view = View(parse_period(case.PERIOD, 1), case.A)
    people = team_rollup(con, view, load_settings(con))
    # Mia: call 600; team Ann 280 + Bob 250 = 530; her own M1 Commit 40 → 570 = 600 − 30.
    assert without_adjustment(people["Mia"]) == 570
    assert without_adjustment(people["Ann"]) == 280  # a rep: their call as it stands
    # Ned: no call → his roll-up Cal 70 (Closed C2) + Dee 200 = 270, nothing to take off.
    assert without_adjustment(people["Ned"]) == 270
    frame = rollup_frame(people, ["Ann", "Bob"]).set_index("user")
    assert frame.loc["Ann", "directs"] == 0 and frame.loc["Bob", "stale"]


def test_who_is_signed_in_and_whose_call_they_may_enter(con):
    tree = hierarchy_at(con, case.A)
    assert home_of(tree, " ANN@example.com ") == "Ann"
    assert home_of(tree, "nobody@example.com") is None
    assert call_targets(tree, "Mia") == ["Mia", "Ann", "Bob"]
    assert call_targets(tree, "Ann") == ["Ann"]


def test_the_deals_a_call_counts_on():
    import pandas as pd

    from sales.inblood import Change

    members = pd.DataFrame({"opportunity_id": ["A2", "A3", "B1"],
                            "start_included": [True, False, True]})
    changes = {"A3": Change(True, "", 50, "Best Case", False),
               "B1": Change(False, "", 300, "Commit", True)}
    assert included_deals(members, changes) == ("A2", "A3")


def test_the_top_of_the_hierarchys_calls_for_the_board_pack(con):
    view = View(parse_period("FY2026-Q2", 1), date(2026, 4, 15))
    keys = top_call_keys(con, view)
    # FY2026-Q1 is the one completed quarter with calls. Vic's latest call by the end of
    # 12 Feb (week 7's day) is 5,000 (08:00 that day) against his whole company's closed won
    # A1 100 + D1 150 + C2 70 = 320: |5,000 − 320| / 320 = 14.625, weeks 7 to 13.
    assert [k["week"] for k in keys] == list(range(7, 14))
    assert {k["user"] for k in keys} == {"Vic"}
    assert all(k["mean_abs_error"] == pytest.approx(14.625) for k in keys)
    report = {"accuracy": {"periods": ["FY2026-Q1"], "week_now": 7, "by_week": [],
                           "top_calls": keys}}
    section = track_record(report)
    assert [t.label for t in section.tiles] == ["Vic's week-7 call"]
    assert section.tiles[0].value == "±1462%"
    assert "Vic's calls" in [trace.name for trace in section.charts[0].figure.data]
    assert "accuracy.top_calls.0.mean_abs_error" in set(section.figures["report key"])
