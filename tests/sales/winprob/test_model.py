"""The model on hand-made training rows: the eligibility floor, training and calibration, the
signed factors, and the cached file read back to the same probabilities."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from sales.winprob import features
from sales.winprob.model import MIN_LOST, MIN_PERIODS, MIN_WON, eligibility, train
from sales.winprob.projection import Learned
from sales.winprob.scores import factor_text, points
from sales.winprob.store import read, write

PERIODS = ("FY2026-Q1", "FY2026-Q2", "FY2026-Q3")


def rows(won: int, lost: int, periods=PERIODS, seed: int = 1) -> pd.DataFrame:
    """`won` + `lost` deals spread over the periods, one row each: won deals sit in
    5-Negotiating (Commit), lost ones in 2-Scoping (Pipeline), with a little noise so the
    trees have something to learn and the calibration something to fit."""
    rng = np.random.default_rng(seed)
    n = won + lost
    outcome = np.array([True] * won + [False] * lost, dtype=bool)
    rng.shuffle(outcome)
    flip = rng.random(n) < 0.1  # one in ten sits in the other stage
    late = outcome ^ flip
    frame = pd.DataFrame({
        "period": [periods[i % len(periods)] for i in range(n)], "week": 3,
        "snap": date(2026, 1, 19), "opportunity_id": [f"D{i}" for i in range(n)],
        "segment": "SMB", "region": "EMEA", "team": "T", "type": "New Business",
        "channel": "Direct", "owner": "Ann",
        "stage": np.where(late, "5-Negotiating", "2-Scoping"),
        "category": np.where(late, "Commit", "Pipeline"),
        "days_in_stage": 10.0, "days_in_category": 10.0, "age_days": 60.0,
        "pushes": np.where(late, 0.0, 2.0), "days_pushed": 0.0, "days_to_period_end": 20.0,
        "amount": 100.0, "amount_change": 1.0, "owner_win_rate": 0.3,
        "segment_win_rate": 0.3, "week_feature": 3.0, "p_start": date(2026, 1, 1),
        "p_end": date(2026, 3, 31), "in_sample": True, "weight": 1.0, "won": outcome})
    return frame[[*features.COLUMNS, "won"]]


def test_the_floor_three_periods_and_a_hundred_of_each_outcome():
    assert (MIN_PERIODS, MIN_WON, MIN_LOST) == (3, 100, 100)
    # three completed quarters and a few hundred won and lost deals qualify
    assert eligibility(rows(300, 400)) is None
    assert eligibility(rows(100, 100)) is None
    assert eligibility(rows(99, 400)) == ("no win-probability model: 99 won and 400 lost "
                                          "deals in the history, 100 of each needed")
    assert "2 completed period(s)" in eligibility(rows(300, 300, PERIODS[:2]))
    assert "0 completed period(s)" in eligibility(rows(0, 0))


def test_no_model_below_the_floor_says_why():
    trained = train(rows(50, 50))
    assert not trained.eligible and "50 won and 50 lost" in trained.reason
    assert trained.describe() == {"kind": None, "trained_periods": list(PERIODS),
                                  "trained_rows": 100, "brier": None, "calibrated": False}


@pytest.fixture(scope="module")
def trained():
    return train(rows(300, 600))


def test_training_calibrates_on_the_latest_period(trained):
    assert trained.eligible and trained.calibrated
    assert trained.trained_periods == list(PERIODS)
    assert trained.trained_rows == 600  # the two earlier quarters; the latest calibrates
    assert 0 < trained.brier < 0.15  # ~10% of deals sit in the other stage


def test_factors_are_signed_points_that_explain_the_probability(trained):
    probe = rows(1, 1, seed=3)
    p, effects = trained.contributions(probe)
    np.testing.assert_allclose(p, trained.predict(probe))
    negotiating = probe["stage"].eq("5-Negotiating").to_numpy()
    stage = features.FEATURES.index("stage")
    # the winning stage pushes up, the losing one down
    assert (effects[negotiating, stage] > 0).all() and (effects[~negotiating, stage] < 0).all()
    assert points(-0.18) == "−18 pts" and points(0.09) == "+9 pts"
    assert factor_text([{"feature": "pushed 2×", "effect": -0.18},
                        {"feature": "Commit for 5 weeks", "effect": 0.09}]) == \
        "pushed 2×: −18 pts · Commit for 5 weeks: +9 pts"


def test_the_cached_file_gives_the_same_probabilities(trained, tmp_path):
    probe = rows(20, 20, seed=5)
    path = tmp_path / "x.duckdb.winprob.0123456789abcdef.json"
    write(path, Learned(date(2026, 11, 20), trained))
    back = read(path)
    assert back.cutoff == date(2026, 11, 20)
    np.testing.assert_allclose(back.trained.predict(probe), trained.predict(probe))
    assert read(tmp_path / "missing.json") is None
