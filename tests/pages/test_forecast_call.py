"""The forecast call page as a manager uses it, on the hand-computed fixture of test_callprep.py:
the numbers on the tiles, the waterfall adding up, a chosen bar's deals, the key deals."""

import pytest
from streamlit.testing.v1 import AppTest

from sales.db import connect
from tests.cases.callprep import S1, W1, _deals, _snapshots
from tests.helpers import ROOT, TIMEOUT, add_target, seed

PAGE = str(ROOT / "pages/forecast_call.py")


@pytest.fixture
def fixture_db(tmp_path, monkeypatch):
    path = tmp_path / "call.duckdb"
    con = connect(path)
    seed(con, _deals(), _snapshots())
    add_target(con, "FY2026-Q4", "company", "", 3000)
    con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def tiles(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def frame_with(at: AppTest, column: str):
    """The first table on the page that has `column`."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_forecast_now_and_at_the_last_call(fixture_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="last_call").value == "2026-11-13"  # a week before as-of
    shown = tiles(at)
    # Default rules. Now: closed 1,300 + Commit 1,400 = 2,700; at the last call: 1,000 + 1,100
    # = 2,100 → +600. Upside: Best Case 400 now, 500 then.
    assert shown["In-blood number"] == ("$2.7K", "$600")
    assert shown["Upside"] == ("$400", "-$100")
    assert shown["Closed won to date"] == ("$1.3K", "$300")  # C won 300 since
    assert shown["Target"][0] == "$3.0K"
    assert shown["Won since last call"][0] == "$300"  # C
    assert shown["Lost since last call"][0] == "$200"  # D, to Rival
    assert shown["Since the last call (13 Nov)"] == ("$400", "1 deal")  # E accepted 17 Nov
    closed = frame_with(at, "outcome").set_index("opportunity_id")
    assert closed.loc["D", "competitor"] == "Rival" and closed.loc["D", "loss_class"] == "competition"


def test_waterfall_adds_up_and_a_chosen_bar_lists_its_deals(fixture_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    # Commit: 1,100 at the last call + A moved in 600 − C won 300 = 1,400.
    assert "Commit at the last call $1,100 + $300 of movement = $1,400 now" in captions(at)
    part = at.selectbox(key="movement_part")
    assert part.options and part.value == "moved_in"  # the first bar that moved
    bar = frame_with(at, "movement")
    assert bar.opportunity_id.tolist() == ["A"] and bar.movement.sum() == 600
    part.select("won").run()
    bar = frame_with(at, "movement")
    assert bar.opportunity_id.tolist() == ["C"] and bar.movement.sum() == -300
    assert "Won: 1 deal · -$300 for the bar" in captions(at)
    # Pipeline: 300 − D lost 200 − G slipped 100 = 0.
    at.radio(key="movement_category").set_value("Pipeline").run()
    assert "Pipeline at the last call $300 − $300 of movement = $0 now" in captions(at)
    at.selectbox(key="movement_part").select("slipped_out").run()
    assert frame_with(at, "movement").opportunity_id.tolist() == ["G"]


def test_key_deals_show_what_changed(fixture_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    # The table holds the columns a manager sees (the account, not the opportunity id).
    keys = frame_with(at, "push_count").set_index("account_name")
    assert keys.index.tolist() == ["Account B", "Account A", "Account E"]  # largest first
    assert keys.loc["Account A", "push_count"] == 1
    assert keys.loc["Account A", "days_in_stage"] == 0
    assert keys.loc["Account A", "change"] == "Best Case → Commit; amount 500 → 600"
    assert keys.loc["Account E", "change"] == "new since the last call"
    at.number_input(key="key_deals_n").set_value(1).run()
    assert frame_with(at, "push_count").account_name.tolist() == ["Account B"]


def test_picking_an_earlier_last_call(fixture_db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="last_call").select(W1.isoformat()).run()
    assert not at.exception
    # At W1 A closed in September: it was pulled into Q4, not moved in.
    assert at.selectbox(key="movement_part").value == "pulled_in"
    assert frame_with(at, "movement").opportunity_id.tolist() == ["A"]


def test_one_snapshot_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "one.duckdb"
    con = connect(path)
    seed(con, _deals(), {S1: _snapshots()[S1]})
    con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("no snapshot before this one" in i.value for i in at.info)
