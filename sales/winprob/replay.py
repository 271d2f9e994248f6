"""The projection replayed at every week of completed periods, with no peeking: for period P
the model is trained on the periods that had ended by P's first day, with the outcomes as
they stood that day, and scores the deals open at each A_w of P (the backtest's `projection`
method, `sales.backtest`).

Besides each (P, w)'s P10, P50 and P90, it scores the deal probabilities: the Brier score over
every scored (deal, week) against the deal's outcome (won in P, as known at the backtest's
as-of), for the model, for the stage map's probabilities (`stage_weighted`) and for per-stage
win rates learned from the same history as the model (`stage_rates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from sales.periods import Period
from sales.query import snapshot_dates
from sales.stages import CATEGORY_PROBABILITIES
from sales.view import Filters
from sales.winprob import features
from sales.winprob.model import brier
from sales.winprob.projection import completed, learn, new_values, simulate, training_share

# Deciles of predicted probability for the reliability chart.
BINS = 10


@dataclass
class Replay:
    """`weeks` grain: one row per (period, week): as_of, snapshot_date, p10, p50, p90.
    `deals` grain: one row per scored (period, week, deal): probability (the model's),
    stage_probability (the stage map's), stage_rate (learned), won (the outcome). `reasons`:
    per period, why it has no projection (no eligible model then)."""

    weeks: pd.DataFrame
    deals: pd.DataFrame
    reasons: dict[str, str] = field(default_factory=dict)

    def calibration(self) -> dict[str, dict[str, float | int | None]]:
        """calibration.<method>.{brier, deals}."""
        d = self.deals
        won = d["won"].to_numpy(float) if len(d) else np.zeros(0)
        return {name: {"brier": brier(d[column].to_numpy(float), won) if len(d) else None,
                       "deals": int(len(d))}
                for name, column in (("projection", "probability"),
                                     ("stage_weighted", "stage_probability"),
                                     ("stage_rates", "stage_rate"))}

    def reliability(self) -> pd.DataFrame:
        """Predicted against observed win rate by decile of predicted probability.

        Grain: one row per decile with rows: decile (1-10), predicted, observed, deals."""
        if not len(self.deals):
            return pd.DataFrame(columns=["decile", "predicted", "observed", "deals"])
        d = self.deals.assign(decile=np.minimum((self.deals["probability"] * BINS).astype(int),
                                                BINS - 1) + 1)
        return (d.groupby("decile").agg(predicted=("probability", "mean"),
                                        observed=("won", "mean"), deals=("won", "size"))
                .reset_index())


def _stage_probabilities(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    return {stage: float(p) / 100 for stage, p in con.cursor().execute(
        "select stage, probability from stage_map where probability is not null").fetchall()}


def replay(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date,
           filters: Filters = Filters(), share: float | None = None) -> Replay:
    """The projection at every week of `periods` (completed by `as_of`), through the filters
    (the model learns from the whole company; the view's deals are scored)."""
    snaps = snapshot_dates(con)
    share = training_share(con) if share is None else share
    learning = {p: completed(p, p.start) for p in periods}
    every = sorted({q for qs in learning.values() for q in qs} | set(periods),
                   key=lambda p: p.start)
    all_keys = features.keys_for(every, snaps, as_of)
    # One read for learning and scoring: the sample of deals the models learn from, and for
    # the periods judged, the largest deals too; a sampled deal stands for 1 / share deals.
    rows = features.rows(con, all_keys, share=share, keep_large=share < 1)
    learn_rows = rows[rows["in_sample"]]
    final = features.outcomes(con, as_of)
    stage_p = _stage_probabilities(con)
    weeks, deals, reasons = [], [], {}
    for period in periods:
        learned = learn(con, learning[period], period.start, share=share, rows=learn_rows)
        mine = [k for k in all_keys if k.period == period]
        if not learned.trained.eligible:
            reasons[period.label] = learned.trained.reason or ""
            continue
        closed = filters.keep(features.won_amounts(con, mine, as_of))
        scored = filters.keep(rows[rows["period"] == period.label])
        scored = scored.assign(probability=learned.trained.predict(scored),
                               won=features.label(scored, final))
        for key in mine:
            at = scored[scored["week"] == key.week]
            then = float(closed.loc[closed["week"] == key.week, "won"].sum())
            weights = at["weight"].to_numpy(float)
            result = simulate(then, at["amount"].to_numpy(float),
                              at["probability"].to_numpy(float),
                              new_values(learned, filters, key.week,
                                         float(weights @ at["amount"].to_numpy(float))),
                              shock=learned.shock(key.week), weights=weights)
            weeks.append({"period": period.label, "week": key.week,
                          "as_of": features.week_day(period, key.week),
                          "snapshot_date": key.snap, "p10": result.p10, "p50": result.p50,
                          "p90": result.p90})
        # The probabilities are judged on the uniform sample of deals (every deal below
        # MAX_TRAINING_DEALS): the largest deals, read besides, would weigh too much.
        judged = scored[scored["in_sample"]]
        fallback = float(np.mean(list(learned.stage_rates.values()))) if learned.stage_rates \
            else 0.0
        by_category = judged["category"].map(
            {c: p / 100 for c, p in CATEGORY_PROBABILITIES.items()}).fillna(0.0)
        deals.append(pd.DataFrame({
            "period": judged["period"], "week": judged["week"],
            "opportunity_id": judged["opportunity_id"], "probability": judged["probability"],
            "stage_probability": judged["stage"].map(stage_p).fillna(by_category)
            .astype(float),
            "stage_rate": judged["stage"].map(learned.stage_rates).fillna(fallback)
            .astype(float),
            "won": judged["won"].astype(float)}))
    columns = ["period", "week", "as_of", "snapshot_date", "p10", "p50", "p90"]
    return Replay(pd.DataFrame(weeks, columns=columns),
                  pd.concat(deals, ignore_index=True) if deals else pd.DataFrame(
                      columns=["period", "week", "opportunity_id", "probability",
                               "stage_probability", "stage_rate", "won"]), reasons)
