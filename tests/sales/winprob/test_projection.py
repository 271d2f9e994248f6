"""The Monte Carlo's arithmetic on hand-made deals: certain outcomes, two coin flips, the
business not scored yet, and the shared shock keeping the mean."""

from __future__ import annotations

import numpy as np
import pytest

from sales.winprob.projection import EXACT_DEALS, simulate


def test_a_deal_at_0_and_a_deal_at_1_give_one_value():
    # closed 100 + the certain deal's 200 (the other, at 0, is never won) = 300 in every draw
    result = simulate(100.0, np.array([300.0, 200.0]), np.array([0.0, 1.0]), [], target=300)
    assert (result.p10, result.p50, result.p90, result.mean) == (300, 300, 300, 300)
    assert result.prob_target == 1.0
    assert simulate(100.0, np.array([300.0, 200.0]), np.array([0.0, 1.0]), [],
                    target=301).prob_target == 0.0
    assert result.expected_from_open == 200 and result.closed == 100
    assert result.deals_scored == 2 and result.expected_from_new == 0


def test_two_deals_at_one_half_give_exact_quantiles():
    # Two coin flips of 100: 0 (¼), 100 (½), 200 (¼). P10 lies in the first quarter (0), P50
    # in the middle half (100), P90 in the last quarter (200): values some draw took.
    result = simulate(0.0, np.array([100.0, 100.0]), np.array([0.5, 0.5]), [], target=200)
    assert (result.p10, result.p50, result.p90) == (0, 100, 200)
    # mean 100 and P(≥ 200) = ¼, within four standard errors of 10,000 draws
    assert result.mean == pytest.approx(100, abs=4 * 70.7 / 100)
    assert result.prob_target == pytest.approx(0.25, abs=4 * 0.433 / 100)
    assert result.expected_from_open == 100


def test_new_business_adds_the_past_periods_mean_and_spread():
    # two past periods both won 50 from deals not scored: no spread, every draw adds 50
    result = simulate(10.0, np.array([]), np.array([]), [50.0, 50.0])
    assert (result.p10, result.p50, result.p90) == (60, 60, 60)
    assert result.expected_from_new == 50
    spread = simulate(0.0, np.array([]), np.array([]), [40.0, 60.0])  # mean 50, sd 14.1
    assert spread.p10 < 50 < spread.p90
    assert spread.mean == pytest.approx(50, abs=1)


def test_many_small_deals_add_up_to_their_normal_sum():
    # 2,000 deals of 10 at 0.3: beyond EXACT_DEALS the rest is a normal; mean 6,000, sd
    # √(2000 · 100 · 0.21) = 204.9; P10 and P90 at ∓1.2816 sd
    n = 2_000
    assert n > EXACT_DEALS
    result = simulate(0.0, np.full(n, 10.0), np.full(n, 0.3), [])
    assert result.mean == pytest.approx(6_000, abs=20)
    assert result.p10 == pytest.approx(6_000 - 1.2816 * 204.9, abs=25)
    assert result.p90 == pytest.approx(6_000 + 1.2816 * 204.9, abs=25)


def test_the_shared_shock_widens_the_range_and_keeps_the_mean():
    amounts, p = np.full(100, 100.0), np.full(100, 0.5)
    alone = simulate(0.0, amounts, p, [])
    shocked = simulate(0.0, amounts, p, [], shock=0.3)
    assert shocked.p90 - shocked.p10 > 2 * (alone.p90 - alone.p10)
    assert shocked.mean == pytest.approx(alone.mean, rel=0.02)


def test_a_sampled_deal_stands_for_its_weight_in_deals():
    # A deal of 1,000 certain to be won (weight 1: drawn on its own) and a sampled deal of 10 at
    # 0.3 standing for 200 like it: mean 1,000 + 200 · 10 · 0.3 = 1,600; the sampled ones are
    # a normal of sd √(200 · 100 · 0.21) = 64.8, as 200 real deals would be (not 200 × one
    # coin flip, whose sd would be 200 · 10 · 0.458 = 916.5)
    result = simulate(0.0, np.array([1_000.0, 10.0]), np.array([1.0, 0.3]), [],
                      weights=np.array([1.0, 200.0]))
    assert result.expected_from_open == pytest.approx(1_600)
    assert result.deals_scored == 201
    assert result.mean == pytest.approx(1_600, abs=4 * 64.8 / 100)
    assert result.p90 - result.p10 == pytest.approx(2 * 1.2816 * 64.8, rel=0.05)
    # every weight 1: the same draws as without weights
    plain = simulate(0.0, np.array([100.0, 100.0]), np.array([0.5, 0.5]), [])
    assert simulate(0.0, np.array([100.0, 100.0]), np.array([0.5, 0.5]), [],
                    weights=np.ones(2)) == plain
