"""No peeking: replaying February, the model learns only from periods that had ended by
February's first day, with the outcomes as they stood that day — not a win recorded later."""

from __future__ import annotations

import pandas as pd
import pytest

from sales.db import connect
from sales.periods import parse_period
from sales.query import snapshot_dates
from sales.winprob import features, projection, replay
from tests.helpers import d, seed

JAN, FEB = parse_period("FY2026-M1"), parse_period("FY2026-M2")
ANN = dict(owner="Ann", account_employees=100, created_date="2025-12-15")
# A: Commit closing 01-30, still open in every picture of January and on 02-02; its win on
#    01-30 is recorded only at the 02-09 snapshot (after February's A_1 = 02-01).
# B: Pipeline closing 01-25, lost at the 01-26 snapshot.
# C: a February deal, Commit closing 02-20 from 02-02, won at 02-23.
OPEN_A = ("A", "4-Proposal", "Commit", 100, "2026-01-30", "Ann")
WON_A = ("A", "7-Closed Won", "Closed", 100, "2026-01-30", "Ann")
SNAPSHOTS = {
    d("2026-01-05"): [OPEN_A, ("B", "2-Scoping", "Pipeline", 50, "2026-01-25", "Ann")],
    d("2026-01-12"): [OPEN_A, ("B", "2-Scoping", "Pipeline", 50, "2026-01-25", "Ann")],
    d("2026-01-26"): [OPEN_A, ("B", "8-Closed Lost", "Omitted", 50, "2026-01-25", "Ann")],
    d("2026-02-02"): [OPEN_A, ("B", "8-Closed Lost", "Omitted", 50, "2026-01-25", "Ann"),
                      ("C", "4-Proposal", "Commit", 300, "2026-02-20", "Ann")],
    d("2026-02-09"): [WON_A, ("B", "8-Closed Lost", "Omitted", 50, "2026-01-25", "Ann"),
                      ("C", "4-Proposal", "Commit", 300, "2026-02-20", "Ann")],
    d("2026-02-23"): [WON_A, ("B", "8-Closed Lost", "Omitted", 50, "2026-01-25", "Ann"),
                      ("C", "7-Closed Won", "Closed", 300, "2026-02-20", "Ann")],
}


@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "peek.duckdb")
    last = {row[0]: row for row in SNAPSHOTS[d("2026-02-23")]}
    seed(con, [{"id": i, "stage": s, "category": c, "amount": a, "close": cd, **ANN}
               for i, (_, s, c, a, cd, _) in last.items()], SNAPSHOTS)
    yield con
    con.close()


def test_training_sees_only_what_was_known_on_the_periods_first_day(con, monkeypatch):
    seen: list[pd.DataFrame] = []
    real = projection.train
    monkeypatch.setattr(projection, "train", lambda rows: seen.append(rows) or real(rows))
    replay.replay(con, [FEB], d("2026-03-02"))
    (rows,) = seen
    # Only January (ended 01-31) is learned from, at its weeks with a snapshot by then:
    # w2 (01-08 → 01-05), w3 (01-15 → 01-12), w4 (01-22 → 01-12), w5 (01-29 → 01-26).
    assert set(rows["period"]) == {"FY2026-M1"}
    assert rows["snap"].max() <= d("2026-02-01")
    a = rows[rows["opportunity_id"] == "A"]
    assert list(a["week"]) == [2, 3, 4, 5]
    # A was won on 01-30, but that was recorded on 02-09: on 02-01 it was still open.
    assert not a["won"].any()
    # The same rows judged by today's data would call A won: the rule is what keeps it out.
    assert features.label(a, features.outcomes(con, d("2026-03-02"))).all()


def test_learning_from_a_period_not_ended_by_the_cutoff_is_refused(con):
    with pytest.raises(ValueError, match="had not ended"):
        projection.learn(con, [JAN, FEB], d("2026-02-15"))


def test_features_are_what_the_week_showed(con):
    (key,) = features.keys_for([FEB], snapshot_dates(con), d("2026-02-10"))[1:]
    assert (key.week, key.snap) == (2, d("2026-02-02"))  # A_2 = 02-08
    rows = features.rows(con, [key])
    # On 02-02 only C is open, qualified and closing in February (A closes in January).
    assert list(rows["opportunity_id"]) == ["C"]
    assert rows.iloc[0]["days_to_period_end"] == 8  # 02-28 − 02-20
    assert rows.iloc[0]["pushes"] == 0 and rows.iloc[0]["amount"] == 300
