"""Forecast movement (docs/metrics.md#9-forecast-movement) on a hand-computed fixture: every part, the outflow
precedence, filters, and start + parts = end to the cent."""

from decimal import Decimal

import pandas as pd
import pytest

from sales.callprep import prepare_call
from sales.db import connect
from sales.movement import PARTS, waterfall_frame, window, zoomed_axis
from sales.periods import parse_period
from sales.view import Filters, View
from tests.helpers import d, seed

Q4 = parse_period("FY2026-Q4")  # 2026-10-01 … 2026-12-31
S0, S1 = d("2026-11-13"), d("2026-11-20")  # last call, now

# (id, stage at S0, amount at S0, close at S0, stage at S1, amount at S1, close at S1, owner at S1)
# None for the S0 fields = the deal did not exist yet; None for S1 = it is gone.
# Owner is Cat unless noted; H1 changes hands from Ann to Bob.
TECH, PENDING, PROP = "3-Technical Evaluation", "0-Pending Acceptance", "4-Proposal"
STORY = [
    # --- inflows into Commit (counted at the S1 amount)
    ("N1", None, None, None, PROP, "1000.33", "2026-12-10"),  # new
    ("MI1", TECH, "200", "2026-12-01", PROP, "250", "2026-12-01"),  # moved_in from Best Case
    ("MI2", PENDING, "300", "2026-11-30", PROP, "300", "2026-11-30"),  # moved_in from unqualified
    ("PI1", PROP, "400", "2027-01-15", PROP, "400", "2026-12-20"),  # pulled_in
    ("PI2", TECH, "150", "2027-02-01", PROP, "180", "2026-12-15"),  # pulled_in beats moved_in
    # --- in Commit and Q4 at both dates
    ("UP1", PROP, "500", "2026-12-01", "5-Negotiating", "600", "2026-12-01"),  # +100
    ("DN1", PROP, "700.10", "2026-12-02", PROP, "650.05", "2026-12-02"),  # -50.05
    ("SAME", PROP, "100", "2026-12-03", PROP, "100", "2026-12-03"),  # no bar
    ("H1", PROP, "500", "2026-12-04", PROP, "500", "2026-12-04"),  # Ann → Bob
    # --- outflows from Commit (counted at minus the S0 amount), precedence removed, won, lost,
    #     slipped_out, moved_out
    ("MO1", PROP, "800", "2026-12-05", TECH, "800", "2026-12-05"),  # to Best Case
    ("MO2", PROP, "90", "2026-12-06", PROP, "90", "2026-09-30"),  # close moved earlier
    ("MO3", PROP, "60", "2026-12-07", PENDING, "60", "2026-12-07"),  # unqualified
    ("SL1", PROP, "1200", "2026-12-31", PROP, "1200", "2027-01-10"),  # slipped
    ("SL2", PROP, "110", "2026-12-08", TECH, "110", "2027-02-01"),  # slipped beats moved
    ("W1", PROP, "900", "2026-12-09", "7-Closed Won", "950", "2026-11-18"),  # won at S0 amount
    ("W2", PROP, "40", "2026-12-10", "7-Closed Won", "40", "2027-01-05"),  # won beats slipped
    ("L1", PROP, "300", "2026-12-11", "8-Closed Lost", "300", "2026-11-19"),  # lost
    ("L2", PROP, "70", "2026-12-12", "9-Unqualified", "70", "2026-11-19"),  # lost (unqualified)
    ("L3", PROP, "20", "2026-12-13", "10-Duplicate", "20", "2026-11-19"),  # lost (duplicate)
    ("R1", PROP, "250", "2026-12-14", None, None, None),  # removed
    # --- Best Case and Pipeline bystanders
    ("BC1", TECH, "300", "2026-12-15", TECH, "300", "2026-12-15"),
    ("P1", "1-Discovery", "50", "2026-12-16", "1-Discovery", "50", "2026-12-16"),
]
_CATEGORY = {"0-Pending Acceptance": "Pipeline", "1-Discovery": "Pipeline",
             "3-Technical Evaluation": "Best Case", "4-Proposal": "Commit",
             "5-Negotiating": "Commit", "7-Closed Won": "Closed", "8-Closed Lost": "Omitted",
             "9-Unqualified": "Omitted", "10-Duplicate": "Omitted"}


def _owner(deal_id: str, when) -> str:
    if deal_id == "H1":
        return "Ann" if when == S0 else "Bob"
    return "Cat"


def _pictures():
    then, now = [], []
    for deal_id, stage0, amount0, close0, stage1, amount1, close1 in STORY:
        if stage0:
            then.append((deal_id, stage0, _CATEGORY[stage0], Decimal(amount0), close0,
                         _owner(deal_id, S0)))
        if stage1:
            now.append((deal_id, stage1, _CATEGORY[stage1], Decimal(amount1), close1,
                        _owner(deal_id, S1)))
    return {S0: then, S1: now}


@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "movement.duckdb")
    deals = [dict(id=x[0], stage=x[4] or x[1], category=_CATEGORY[x[4] or x[1]],
                  amount=float(x[5] or x[2]), close=x[6] or x[3], owner="Cat",
                  account_employees=9000, region="AMER", team="T1", type="New Business",
                  account_name=f"Account {x[0]}")
             for x in STORY]
    seed(con, deals, _pictures())
    yield con
    con.close()


def view(**filters) -> View:
    return View(Q4, S1, Filters.of(**filters))


def movement(con, v: View, since=None):
    """Each category's movement, as the forecast call and the report compute it."""
    return prepare_call(con, v, since).movement


def movement_deals(con, v: View, since, category: str, part: str):
    """The deals behind one bar (the call keeps the largest 200 a bar), the bar's deal count
    and its amount."""
    prep = prepare_call(con, v, since)
    bars = prep.bar_deals
    deals = bars[(bars.category == category) & (bars.part == part)]
    moved = prep.movement[category]
    return deals, moved.counts[part], float(moved.parts[part])


def test_every_part_of_commit_by_hand(con):
    commit = movement(con, view(), S0)["Commit"]
    # Start: UP1 500 + DN1 700.10 + SAME 100 + H1 500 + MO1 800 + MO2 90 + MO3 60 + SL1 1200
    #        + SL2 110 + W1 900 + W2 40 + L1 300 + L2 70 + L3 20 + R1 250 = 5,640.10 (15 deals).
    assert (commit.start, commit.start_count) == (Decimal("5640.10"), 15)
    assert commit.parts == {
        "new": Decimal("1000.33"),      # N1
        "moved_in": Decimal("550"),     # MI1 250 (S1 amount) + MI2 300
        "pulled_in": Decimal("580"),    # PI1 400 + PI2 180
        "amount_up": Decimal("100"),    # UP1 500 → 600
        "amount_down": Decimal("-50.05"),  # DN1 700.10 → 650.05
        "moved_out": Decimal("-950"),   # MO1 800 + MO2 90 + MO3 60
        "slipped_out": Decimal("-1310"),  # SL1 1,200 + SL2 110
        "won": Decimal("-940"),         # W1 900 (its S0 amount, not the 950 it closed at) + W2 40
        "lost": Decimal("-390"),        # L1 300 + L2 70 (9-Unqualified) + L3 20 (10-Duplicate)
        "removed": Decimal("-250"),     # R1
        "currency": Decimal("0"),       # one currency: no rate moved
    }
    # End: N1 1,000.33 + MI1 250 + MI2 300 + PI1 400 + PI2 180 + UP1 600 + DN1 650.05 + SAME 100
    #      + H1 500 = 3,980.38 (9 deals).
    assert (commit.end, commit.end_count) == (Decimal("3980.38"), 9)
    # 5,640.10 + 1,000.33 + 550 + 580 + 100 − 50.05 − 950 − 1,310 − 940 − 390 − 250 = 3,980.38
    assert commit.start + sum(commit.parts.values()) == commit.end
    assert commit.counts == {"new": 1, "moved_in": 2, "pulled_in": 2, "amount_up": 1,
                             "amount_down": 1, "moved_out": 3, "slipped_out": 2, "won": 2,
                             "lost": 3, "removed": 1, "currency": 0}


def test_best_case_and_pipeline(con):
    moves = movement(con, view(), S0)
    best = moves["Best Case"]
    # Start MI1 200 + BC1 300 = 500; MO1 arrives from Commit (+800), MI1 leaves for Commit
    # (−200); SL2 is Best Case now but closes after Q4 and PI2 was outside Q4: neither counts.
    assert (best.start, best.end) == (Decimal("500"), Decimal("1100"))
    assert {p: v for p, v in best.parts.items() if v} == {"moved_in": Decimal("800"),
                                                           "moved_out": Decimal("-200")}
    # MO3 went Commit → 0-Pending Acceptance: unqualified, so not Pipeline's gain.
    pipeline = moves["Pipeline"]
    assert (pipeline.start, pipeline.end) == (Decimal("50"), Decimal("50"))
    assert not any(pipeline.parts.values())


def test_a_deal_changing_hands_moves_between_owners(con):
    # H1 is Commit at 500 in Q4 at both dates; only its owner changed (Ann → Bob).
    ann = movement(con, view(owner="Ann"), S0)["Commit"]
    assert (ann.start, ann.end, ann.parts["moved_out"]) == (500, 0, -500)
    bob = movement(con, view(owner="Bob"), S0)["Commit"]
    assert (bob.start, bob.end, bob.parts["moved_in"]) == (0, 500, 500)
    for moved in (ann, bob):
        assert moved.start + sum(moved.parts.values()) == moved.end


@pytest.mark.parametrize("part", PARTS)
def test_the_deals_behind_each_bar_reproduce_it(con, part):
    moves = movement(con, view(), S0)
    for category, moved in moves.items():
        deals, total, amount = movement_deals(con, view(), S0, category, part)
        assert total == moved.counts[part] == len(deals)
        assert Decimal(str(amount)) == moved.parts[part]
        assert deals["movement"].sum() == pytest.approx(float(moved.parts[part]))


def test_bar_deals_say_what_happened(con):
    deals, _, _ = movement_deals(con, view(), S0, "Commit", "won")
    w1 = deals.set_index("opportunity_id").loc["W1"]
    assert (w1.movement, w1.amount_then, w1.amount_now) == (-900, 900, 950)
    assert (w1.category_then, w1.category_now, w1.stage_now) == ("Commit", "Closed", "7-Closed Won")
    removed, _, _ = movement_deals(con, view(), S0, "Commit", "removed")
    assert removed.opportunity_id.tolist() == ["R1"] and removed.stage_now.isna().all()


def test_waterfall_frame_sums_to_the_end(con):
    frame = waterfall_frame(movement(con, view(), S0)["Commit"])
    assert frame.part.tolist() == ["start", *(p for p in PARTS if p != "currency"), "end"]
    # The relative bars add up from the start bar to the end bar.
    assert frame.amount.iloc[0] + frame.amount.iloc[1:-1].sum() == pytest.approx(frame.amount.iloc[-1])
    assert frame.amount.iloc[-1] == pytest.approx(3980.38)


def test_waterfall_levels_and_axis(con):
    frame = waterfall_frame(movement(con, view(), S0)["Commit"]).set_index("part")
    # Each part stands on the running total: new from 5,640.10 up to 6,640.43; ... amount_down
    # from 7,870.43 down to 7,820.38; removed ends the run at 3,980.38, where the end bar tops.
    assert (frame.loc["new", "base"], frame.loc["new", "top"]) == pytest.approx((5640.10, 6640.43))
    assert frame.loc["amount_down", "base"] == pytest.approx(7820.38)
    assert frame.loc["amount_down", "top"] == pytest.approx(7870.43)
    assert frame.loc["removed", "base"] == pytest.approx(3980.38)
    assert (frame.loc["start", "base"], frame.loc["end", "top"]) == pytest.approx((0, 3980.38))
    assert list(frame.direction) == ["level", "up", "up", "up", "up", "down", "down", "down",
                                     "down", "down", "down", "level"]
    # Lowest level 3,980.38 is above half the highest bar (7,870.43 after amount_up), so the
    # axis zooms: 3,980.38 − 0.25 × 3,890.05 = 3,007.87 to 7,870.43 + 0.12 × 3,890.05 = 8,337.24.
    assert zoomed_axis(frame.reset_index()) == pytest.approx((3007.8675, 8337.236))


def test_default_last_call_is_a_week_before(con):
    # As of 2026-11-20, a week before is 2026-11-13: the S0 snapshot.
    assert window(con, S1).since == S0 and window(con, S1).now == S1
    assert movement(con, view()) == movement(con, view(), S0)
    # As of 2026-11-19 there is no snapshot a week earlier: the last call precedes every
    # snapshot, nothing existed, and everything open in Commit at 2026-11-13 is new.
    early = window(con, d("2026-11-19"))
    assert (early.since, early.now) == (None, S0)
    commit = movement(con, View(Q4, d("2026-11-19")))["Commit"]
    assert commit.start == 0 and commit.parts["new"] == commit.end == Decimal("5640.10")
    # The same date twice: nothing moved.
    same = movement(con, view(), S1)["Commit"]
    assert same.start == same.end and not any(same.parts.values())


# --- On the demo: the identity for every category and several filters, and the bars' deals.

DEMO_FILTERS = [dict(), dict(segment="SMB"), dict(segment=["Enterprise", "Mid-Market"]),
                dict(region="EMEA", type="Renewal"), dict(channel="Partner")]


@pytest.fixture(scope="module")
def demo(demo_db):
    from sales.db import open_for_reading

    con = open_for_reading(demo_db)  # a page test in this process may hold the file
    yield con
    con.close()


def _demo_view(con, **filters):
    from sales.query import default_as_of

    as_of = default_as_of(con)
    return View(parse_period("FY2026-Q4"), as_of, Filters.of(**filters))


@pytest.mark.parametrize("filters", DEMO_FILTERS, ids=str)
def test_demo_parts_sum_to_the_change(demo, filters):
    from sales.rollup import category_rollup

    v = _demo_view(demo, **filters)
    moves = movement(demo, v)
    last_call = window(demo, v.as_of).since
    assert last_call is not None and (v.as_of - last_call).days >= 7
    then = category_rollup(demo, View(v.period, last_call, v.filters))
    now = category_rollup(demo, v)
    for category, moved in moves.items():
        # Exact in DECIMAL: start + every signed part = end, to the cent.
        assert moved.start + sum(moved.parts.values()) == moved.end
        # Start and end are the roll-up at the last call and now.
        assert float(moved.start) == pytest.approx(then[category].amount)
        assert float(moved.end) == pytest.approx(now[category].amount)
        assert (moved.start_count, moved.end_count) == (then[category].count, now[category].count)
        assert all(moved.parts[p] >= 0 for p in ("new", "moved_in", "pulled_in", "amount_up"))
        assert all(moved.parts[p] <= 0 for p in ("amount_down", "moved_out", "slipped_out",
                                                 "won", "lost", "removed"))
    assert any(any(m.parts.values()) for m in moves.values()), "the demo moves week to week"


@pytest.mark.parametrize("filters", DEMO_FILTERS[:2], ids=str)
@pytest.mark.slow
def test_demo_bar_deals_reproduce_each_bar(demo, filters):
    v = _demo_view(demo, **filters)
    for category, moved in movement(demo, v).items():
        for part in PARTS:
            deals, count, amount = movement_deals(demo, v, None, category, part)
            assert count == moved.counts[part] == len(deals)  # fewer than 200 a bar
            assert Decimal(str(amount)).quantize(Decimal("0.01")) == moved.parts[part]
            assert deals["movement"].sum() == pytest.approx(float(moved.parts[part]))


@pytest.mark.slow
def test_report_movement_keys_and_since(demo_db, capsys):
    import json

    from sales.cli import main

    assert main(["report", "--db", str(demo_db), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    moved = report["movement"]
    assert (moved["from"], moved["to"]) == ("2026-11-13", "2026-11-20")
    keys = ["start", *PARTS, "end"]
    for category in ("Commit", "Best Case", "Pipeline"):
        assert list(moved[category]) == keys
        parts = sum(moved[category][p] for p in PARTS)
        assert round(moved[category]["start"] + parts, 2) == round(moved[category]["end"], 2)
        assert moved[category]["end"] == report["categories"][category]["amount"]
    # --since picks an earlier last call; the end stays, the start moves.
    assert main(["report", "--db", str(demo_db), "--since", "2026-10-31"]) == 0
    earlier = json.loads(capsys.readouterr().out)["movement"]
    assert earlier["from"] == "2026-10-30" and earlier["Commit"]["end"] == moved["Commit"]["end"]
    assert main(["report", "--db", str(demo_db), "--format", "csv"]) == 0
    assert "movement.Best Case.slipped_out," in capsys.readouterr().out
    assert main(["report", "--db", str(demo_db), "--since", "2027-01-01"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.slow
def test_held_filter_free_sets_serve_every_filter(demo):
    # The Forecast call page reads the changed deals (and the first-qualified deals) once per
    # pair of dates and keeps them while the manager changes filters: every section must
    # equal the uncached call.
    from sales.generated import earliest_window, first_qualified, pipeline_generated
    from sales.movement import changed_deals

    v = _demo_view(demo)
    win = window(demo, v.as_of)
    held = changed_deals(demo, win.then_read, win.now_read)
    seen = first_qualified(demo, earliest_window(demo, v, None), v.as_of)
    owner = demo.execute("select owner from opportunities order by amount desc limit 1").fetchone()[0]
    for filters in [*DEMO_FILTERS, dict(owner=owner)]:
        view = _demo_view(demo, **filters)
        fresh, cached = prepare_call(demo, view), prepare_call(demo, view, changed=held)
        assert cached.movement == fresh.movement
        assert cached.categories_then == fresh.categories_then
        for frame in ("by_type", "bar_deals", "closed_since", "key_deals", "renewal_risks"):
            pd.testing.assert_frame_equal(getattr(cached, frame), getattr(fresh, frame))
        assert (pipeline_generated(demo, view, None, seen)
                == pipeline_generated(demo, view, None))
    assert held.num_rows < demo.execute("select count(*) from opportunities").fetchone()[0] / 2
