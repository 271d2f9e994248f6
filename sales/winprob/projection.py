"""The projection (docs/metrics.md#17-deal-win-probability-and-the-projection):
closed won + a Monte Carlo over the open, qualified deals' outcomes (each won with its
probability) + what will be won from deals not scored yet, learned from past periods at the
same week, with its spread across them.

What the range assumes: given the period's fortune, each open deal is won or lost on its own;
the fortune itself — one shared factor on everything still to win in a draw (a quarter-end
rush, one economy) — varies as much as the model's misses did across the past periods at the
same week; and the business not yet in view arrives at the rate per unit of pipeline the past
periods saw, spread as they were. The backtest's interval coverage says how often the range
held on the company's own history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from sales.periods import Period
from sales.query import snapshot_dates, snapshot_on_or_before
from sales.view import Filters
from sales.winprob import features
from sales.winprob.model import Trained, train

# numpy's BLAS (OpenBLAS) on one thread in any process that draws: its second thread spins
# through the draw's small products and burned a core for nothing (the same 25 ms a draw,
# 53 ms of CPU against 25), a core the page's other questions were waiting for. Set once, not
# around each draw: handing the thread back woke it to spin again.
ThreadpoolController().limit(limits=1, user_api="blas")
DRAWS = 10_000
SEED = 2026
# Draws × deals held at once (a few MB): a block that stays in the processor's cache and is
# allocated again without the page faults of one 30 MB matrix costs half the time. Blocks of
# whole draws read the random stream in the same order as one matrix, so the figures are the
# same whatever the block.
BLOCK_CELLS = 400_000
# Deals drawn one by one, the largest swings (amount² · p · (1 − p)) first; the rest, many small
# deals, add up to a normal with their sum's mean and variance (the central limit theorem), so
# a draw over 50,000 open deals costs what one over 400 does.
EXACT_DEALS = 400
# The completed periods a model learns from (the latest calibrates): older ones describe a
# company that has since changed.
LEARN_PERIODS = 8
QUANTILES = (0.1, 0.5, 0.9)
# Deals whose weekly rows a model learns from: beyond this a uniform share of deals (by a hash
# of the id, so a deal keeps all its weeks) bounds the training time at a million
# opportunities; the sums that learn the business not scored yet are scaled back up.
MAX_TRAINING_DEALS = 100_000


def training_share(con: duckdb.DuckDBPyConnection) -> float:
    """The share of deals a model learns from (1 up to MAX_TRAINING_DEALS deals)."""
    count = con.cursor().execute("select count(*) from opportunities").fetchone()[0]
    return 1.0 if count <= MAX_TRAINING_DEALS else MAX_TRAINING_DEALS / count


@dataclass(frozen=True)
class Projection:
    """One view's projection: the quantiles and mean of closed + open + new over the draws,
    the chance of reaching the target (None without one) and its parts."""

    p10: float
    p50: float
    p90: float
    mean: float
    prob_target: float | None
    target: float | None
    closed: float
    expected_from_open: float
    expected_from_new: float
    deals_scored: int


def simulate(closed: float, amounts: np.ndarray, probabilities: np.ndarray,
             new_values: list[float], target: float | None = None, draws: int = DRAWS,
             seed: int = SEED, shock: float = 0.0, weights: np.ndarray | None = None
             ) -> Projection:
    """The Monte Carlo: per draw, closed + Σ amount over the deals drawn won (each with its
    probability; past EXACT_DEALS the small ones as their normal sum) + a draw of what is won
    from deals not scored yet (normal with the past periods' mean and spread, never below 0;
    their single value when only one).
    With `shock` (a log-scale spread), what is still to win in a draw is scaled by one
    shared lognormal factor of mean 1: outcomes that move together. Quantiles are values some
    draw took (the inverted empirical distribution).
    With `weights` (a sample of deals, `features.rows`): a deal of weight w stands for w deals
    like it, each won on its own, so it joins the normal sum with w times its mean and
    variance; only deals of weight 1 are drawn one by one."""
    rng = np.random.default_rng(seed)
    amounts = np.asarray(amounts, float)
    probabilities = np.asarray(probabilities, float)
    weights = np.ones(len(amounts)) if weights is None else np.asarray(weights, float)
    totals = np.full(draws, float(closed))
    swing = weights * amounts ** 2 * probabilities * (1 - probabilities)
    single = weights == 1
    order = np.argsort(-np.where(single, swing, -1.0), kind="stable")
    exact_count = min(EXACT_DEALS, int(single.sum()))
    exact, rest = order[:exact_count], order[exact_count:]
    if len(exact):
        chosen_p, chosen_amounts = probabilities[exact], amounts[exact]
        rows = max(1, BLOCK_CELLS // len(exact))
        for start in range(0, draws, rows):
            block = rng.random((min(rows, draws - start), len(exact)))
            # Won as 0/1 floats, written over the uniforms: numpy multiplies a float matrix
            # by BLAS, but a boolean one on a slow path (the same sums, four times the time).
            np.less(block, chosen_p, out=block)
            totals[start:start + len(block)] += block @ chosen_amounts
    if len(rest):
        totals += rng.normal(float((weights[rest] * amounts[rest]) @ probabilities[rest]),
                             float(np.sqrt(swing[rest].sum())), draws)
    new = np.asarray(new_values, float)
    if len(new):
        spread = new.std(ddof=1) if len(new) > 1 else 0.0
        totals += np.maximum(rng.normal(new.mean(), spread, draws), 0.0)
    if shock > 0:
        # One draw of the period's fortune, shared by every deal of a draw (a quarter-end
        # rush, one economy): what is still to win moves together, its mean kept.
        totals = closed + (totals - closed) * np.exp(rng.normal(-shock ** 2 / 2, shock, draws))
    p10, p50, p90 = np.quantile(totals, QUANTILES, method="inverted_cdf")
    return Projection(float(p10), float(p50), float(p90), float(totals.mean()),
                      None if target is None else float((totals >= target).mean()), target,
                      float(closed), float((weights * amounts) @ probabilities),
                      float(new.mean()) if len(new) else 0.0, int(round(weights.sum())))


@dataclass
class Learned:
    """A model learned at a cutoff day from the periods ended by then, and what those periods
    say about the business not scored at each week (`history`: features.won_amounts plus the
    scored deals' won amount per (period, week, dimensions), column `scored`)."""

    cutoff: date
    trained: Trained
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Per stage, the share of training rows won: the simple model the trees must beat.
    stage_rates: dict[str, float] = field(default_factory=dict)
    # Per week, how far (log scale, standard deviation over the periods learned from) what
    # was still to win strayed from the model's expectation then: the shared shock.
    shocks: dict[int, float] = field(default_factory=dict)

    def shock(self, week: int) -> float:
        """The shock at a week (the nearest earlier week learned; 0 without any)."""
        earlier = [w for w in self.shocks if w <= week]
        return self.shocks[max(earlier)] if earlier else 0.0


def completed(periods_before: Period, cutoff: date, n: int = LEARN_PERIODS) -> list[Period]:
    """The n periods of the same kind before `periods_before` that had ended by `cutoff`."""
    return [p for p in periods_before.previous(n) if p.end < cutoff]


def learn(con: duckdb.DuckDBPyConnection, periods: list[Period], cutoff: date,
          share: float = 1.0, rows: pd.DataFrame | None = None) -> Learned:
    """Train on `periods` (all ended before `cutoff`) with what was known on `cutoff`: the
    snapshots up to it and the outcomes as they stood then. `rows` (features.rows of these
    periods' keys, unlabelled) spares reading them again; `share` samples deals."""
    if any(p.end >= cutoff for p in periods):
        raise ValueError("a period the model learns from had not ended by the cutoff")
    keys = features.keys_for(periods, [d for d in snapshot_dates(con) if d <= cutoff], cutoff)
    if rows is None or not keys:
        rows = features.rows(con, keys, share=share)
    else:
        wanted = pd.MultiIndex.from_tuples([(k.period.label, k.week) for k in keys])
        rows = rows[pd.MultiIndex.from_arrays([rows["period"], rows["week"]]).isin(wanted)]
    rows = rows.assign(won=features.label(rows, features.outcomes(con, cutoff)))
    trained = train(rows)
    if not trained.eligible:
        return Learned(cutoff, trained)
    by = ["period", "week", *features.DIMENSIONS]
    scored = (rows.assign(won_amount=rows["amount"].where(rows["won"], 0.0))
              .groupby(by, dropna=False)
              .agg(scored=("won_amount", "sum"), pipeline=("amount", "sum")) / share
              ).reset_index()
    won = features.won_amounts(con, keys, cutoff)
    for frame in (won, scored):  # a dimension all null reads as float: one type to join on
        frame[list(features.DIMENSIONS)] = frame[list(features.DIMENSIONS)].astype(object)
    history = won.merge(scored, how="outer", on=["period", "week", *features.DIMENSIONS])
    rates = rows.groupby("stage")["won"].mean().to_dict() if len(rows) else {}
    learned = Learned(cutoff, trained, history.fillna({"won": 0.0, "scored": 0.0,
                                                       "pipeline": 0.0}),
                      {str(k): float(v) for k, v in rates.items()})
    if trained.eligible:
        learned.shocks = _shocks(learned, rows.assign(p=trained.predict(rows)), share)
    return learned


# Fewer periods than this at a week say nothing about its spread.
MIN_SHOCK_PERIODS = 3


def _shocks(learned: Learned, rows: pd.DataFrame, share: float) -> dict[int, float]:
    """Per week: the standard deviation over the learned periods of log(what was still to win
    / what the model expected of it then: Σ p · amount + the other periods' new-business rate
    × pipeline). In-sample for the trees, so if anything too small."""
    expected = (rows.assign(e=rows["p"] * rows["amount"]).groupby(["period", "week"])["e"]
                .sum() / share).to_dict()
    sums = learned.history.groupby(["period", "week"])[["won", "pipeline", "scored"]].sum()
    sums = {key: tuple(values) for key, values in zip(sums.index, sums.to_numpy(), strict=True)}
    outcome = {p: won for (p, w), (won, _, _) in sums.items() if w == 0}
    out = {}
    for week in sorted(set(rows["week"])):
        seen = {p: sums[(p, week)] for p in outcome if (p, week) in sums and sums[(p, week)][1] > 0}
        rates = {p: (outcome[p] - won - scored) / pipeline
                 for p, (won, pipeline, scored) in seen.items()}
        logs = []
        for period, (won, pipeline, _) in seen.items():
            others = [r for p, r in rates.items() if p != period]
            guess = expected.get((period, week), 0.0) + (
                float(np.mean(others)) * pipeline if others else 0.0)
            still = outcome[period] - won
            if others and guess > 0 and still > 0:
                logs.append(np.log(still / guess))
        if len(logs) >= MIN_SHOCK_PERIODS:
            out[int(week)] = float(np.std(logs, ddof=1))
    return out


def new_rates(learned: Learned, filters: Filters, week: int) -> list[float]:
    """What each past period won, through the filters, from deals not scored at week `week`
    (its last week when shorter) — its outcome − closed won then − what the scored deals won —
    per unit of the open, qualified pipeline scored then: a company that grows brings more
    new business with more pipeline, so the rate carries over where the amount would not."""
    history = learned.history
    if not len(history):
        return []
    kept = filters.mask(history)
    # The few number columns of the kept rows, summed per (period, week): the loop below
    # then reads a handful of rows, not the history's thousands.
    sums = pd.DataFrame({name: history[name].to_numpy()[kept]
                         for name in ("period", "week", "won", "pipeline", "scored")}
                        ).groupby(["period", "week"]).sum()
    out = []
    for _, mine in sums.groupby(level="period"):
        by_week = mine.droplevel("period")
        weeks = sorted(set(by_week.index) - {0})
        if not weeks:
            continue
        earlier = [w for w in weeks if w <= week]
        then = by_week.loc[max(earlier) if earlier else weeks[0]]
        outcome = by_week["won"].get(0, 0.0)
        if then["pipeline"] > 0:
            out.append(float(outcome - then["won"] - then["scored"]) / then["pipeline"])
    return out


def new_values(learned: Learned, filters: Filters, week: int, pipeline: float) -> list[float]:
    """The past periods' new-business rates (`new_rates`) applied to today's pipeline."""
    return [rate * pipeline for rate in new_rates(learned, filters, week)]


def score_rows(con: duckdb.DuckDBPyConnection, period: Period, as_of: date,
               filters: Filters) -> tuple[features.Key | None, pd.DataFrame]:
    """The view's open, qualified deals closing in the period as of `as_of`, with features."""
    snap = snapshot_on_or_before(con, as_of)
    if snap is None:
        return None, pd.DataFrame(columns=list(features.COLUMNS))
    week = max(1, (as_of - period.start).days // 7 + 1)
    key = features.Key(period, week, snap)
    return key, features.rows(con, [key], filters)
