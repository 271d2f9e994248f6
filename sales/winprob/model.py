"""The deal win-probability model: LightGBM trees trained on the earlier completed periods,
calibrated (Platt: a logistic curve over the trees' log-odds) on the latest one, with each
deal's signed factors from the trees' own per-row contributions (TreeSHAP, `pred_contrib`).

Why LightGBM: on the demo and the unreliable company (115,000 training rows each) it matched
scikit-learn's HistGradientBoostingClassifier's Brier score to the third decimal, trained as
fast on one thread and scored twice as fast, and gives exact per-row contributions; the
scikit-learn model needs an occlusion pass (one prediction per feature) for the same.

Eligibility (docs/metrics.md#17-deal-win-probability-and-the-projection):
at least MIN_PERIODS completed periods with rows, and MIN_WON won and MIN_LOST lost deals
among them; otherwise `train` returns a model-less `Trained` that says why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sales.winprob.features import CATEGORICAL, FEATURES, MISSING, NUMERIC, matrix

# The floor, from measurement (README, "The projection"): below about a hundred of each
# outcome the trees' Brier score is no better than per-stage win rates; three periods give
# two to learn from and one later slice to calibrate on.
MIN_PERIODS, MIN_WON, MIN_LOST = 3, 100, 100
# At most this many training rows: a deal is seen every week it is open, and neighbouring
# weeks say nearly the same thing, so a uniform sample keeps the model and bounds the time.
MAX_TRAINING_ROWS = 60_000
SAMPLE_SEED = 7
# Small trees, few rounds, one thread: the model is retrained per data version and per
# backtest period on a shared machine; more rounds bought no Brier score on either company.
PARAMS = dict(objective="binary", learning_rate=0.05, num_leaves=15, min_data_in_leaf=100,
              bagging_fraction=0.5, bagging_freq=1, feature_fraction=0.9, num_threads=1,
              verbose=-1, seed=SAMPLE_SEED)
ROUNDS = 150
KIND = "lightgbm"
# How many factors a deal shows, strongest first.
TOP_FACTORS = 3


@dataclass
class Trained:
    """A trained model, or why there is none (`reason` set, `booster` None)."""

    reason: str | None
    trained_periods: list[str] = field(default_factory=list)
    trained_rows: int = 0
    won_deals: int = 0
    lost_deals: int = 0
    brier: float | None = None  # on the calibration slice, after calibration
    calibrated: bool = False
    booster: object | None = None
    platt: tuple[float, float] = (1.0, 0.0)  # p = sigmoid(a · log-odds + b)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def eligible(self) -> bool:
        return self.booster is not None

    def describe(self) -> dict[str, object]:
        """The report's `projection.model` keys."""
        return {"kind": KIND if self.eligible else None,
                "trained_periods": list(self.trained_periods),
                "trained_rows": int(self.trained_rows), "brier": self.brier,
                "calibrated": bool(self.calibrated)}

    def _inputs(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows as the trees saw their training: the same category lists (unseen → missing)."""
        x = pd.DataFrame(index=rows.index)
        for c in CATEGORICAL:  # straight to the training's categories: no string dtype between
            values = rows[c].to_numpy(dtype=object, na_value=MISSING)
            x[c] = pd.Categorical(values, categories=self.categories[c])
        for c in NUMERIC:
            x[c] = rows["week_feature" if c == "week" else c].astype("float64")
        return x


    def log_odds(self, rows: pd.DataFrame) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        return self.booster.predict(self._inputs(rows), raw_score=True)


    def probability_from(self, logit: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return 1 / (1 + np.exp(-(a * np.asarray(logit) + b)))


    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Each row's calibrated win probability."""
        return self.probability_from(self.log_odds(rows))


    def contributions(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, effects): effects[i, j] is how many probability points (as a share, −1
        to 1) feature j moves row i's calibrated probability: p − p without its contribution."""
        if not len(rows):
            return np.zeros(0), np.zeros((0, len(FEATURES)))
        contrib = self.booster.predict(self._inputs(rows), pred_contrib=True)
        logit = contrib.sum(axis=1)
        p = self.probability_from(logit)
        without = self.probability_from(logit[:, None] - contrib[:, :-1])
        return p, p[:, None] - without



def eligibility(rows: pd.DataFrame) -> str | None:
    """Why these training rows cannot make a model (None: they can)."""
    periods = rows["period"].nunique() if len(rows) else 0
    outcome = rows.groupby("opportunity_id")["won"].max() if len(rows) else pd.Series(
        dtype=bool)
    won, lost = int(outcome.sum()), int((~outcome.astype(bool)).sum())
    if periods < MIN_PERIODS:
        return (f"no win-probability model: {periods} completed period(s) of weekly history, "
                f"{MIN_PERIODS} needed")
    if won < MIN_WON or lost < MIN_LOST:
        return (f"no win-probability model: {won} won and {lost} lost deals in the history, "
                f"{MIN_WON} of each needed")
    return None


def train(rows: pd.DataFrame) -> Trained:
    """Train on every completed period but the latest and calibrate on the latest (a later
    slice of time than the trees saw). `rows`: features.rows with `won`."""
    reason = eligibility(rows)
    periods = sorted(rows["period"].unique().tolist()) if len(rows) else []
    outcome = rows.groupby("opportunity_id")["won"].max() if len(rows) else pd.Series(
        dtype=bool)
    counts = dict(won_deals=int(outcome.sum()), lost_deals=int((~outcome.astype(bool)).sum()))
    if reason:
        return Trained(reason, periods, len(rows), **counts)
    import lightgbm  # loaded only when a model is trained

    later = rows["period"] == periods[-1]
    fit_rows = _sample(rows[~later])
    x = matrix(fit_rows)
    categories = {c: x[c].cat.categories.tolist() for c in CATEGORICAL}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        booster = lightgbm.train(PARAMS, lightgbm.Dataset(
            x, fit_rows["won"].astype(int).to_numpy()), num_boost_round=ROUNDS)
    trained = Trained(None, periods, len(fit_rows), **counts, booster=booster,
                      categories=categories)
    held = _sample(rows[later])
    logit = trained.log_odds(held)
    outcome_later = held["won"].astype(int).to_numpy()
    trained.platt = _platt(logit, outcome_later)
    trained.calibrated = True
    trained.brier = float(np.mean((trained.probability_from(logit) - outcome_later) ** 2))
    return trained


def _sample(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) <= MAX_TRAINING_ROWS:
        return rows
    return rows.sample(MAX_TRAINING_ROWS, random_state=SAMPLE_SEED)


def _platt(logit: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    """Platt scaling: the logistic regression of the outcomes on the log-odds (Newton steps on
    two parameters; a slice with a single outcome keeps the trees' own)."""
    if outcome.min() == outcome.max():
        return 1.0, 0.0
    a, b = 1.0, 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a * logit + b)))
        w = np.maximum(p * (1 - p), 1e-9)
        g = np.array([np.sum((p - outcome) * logit), np.sum(p - outcome)])
        h = np.array([[np.sum(w * logit * logit), np.sum(w * logit)],
                      [np.sum(w * logit), np.sum(w)]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)




def brier(probabilities: np.ndarray, outcomes: np.ndarray) -> float | None:
    """Mean squared gap between probability and outcome (None without rows)."""
    if not len(outcomes):
        return None
    return float(np.mean((np.asarray(probabilities, float) - np.asarray(outcomes, float)) ** 2))


def describe_factor(feature: str, row: Mapping) -> str:
    """A factor as a manager reads it: "pushed 2×", "Commit for 5 weeks", "stage 4-Proposal"."""
    value = row[feature if feature != "week" else "week_feature"]
    if feature in CATEGORICAL:
        return f"{feature.replace('_', ' ')} {value}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{_NUMERIC_NAMES[feature]} unknown"
    return _NUMERIC_TEXT[feature](float(value), row)


_NUMERIC_NAMES = {"owner_win_rate": "owner's win rate", "segment_win_rate": "segment's win rate"}
_NUMERIC_TEXT = {
    "days_in_stage": lambda v, r: f"in {r['stage']} for {_span(v)}",
    "days_in_category": lambda v, r: f"{r['category']} for {_span(v)}",
    "age_days": lambda v, r: f"{round(v)} days old",
    "pushes": lambda v, r: f"pushed {round(v)}×",
    "days_pushed": lambda v, r: f"close date {round(v)} days later than first set",
    "days_to_period_end": lambda v, r: f"closes {round(v)} days before the period's end",
    "amount": lambda v, r: f"amount {v:,.0f}",
    "amount_change": lambda v, r: f"amount {v - 1:+.0%} since created",
    "week": lambda v, r: f"week {round(v)} of the period",
    "owner_win_rate": lambda v, r: f"owner's win rate {v:.0%}",
    "segment_win_rate": lambda v, r: f"segment's win rate {v:.0%}",
}


def _span(days: float) -> str:
    """'5 days', '3 weeks': weeks from two on."""
    return f"{round(days)} days" if days < 14 else f"{round(days / 7)} weeks"


def factors(trained: Trained, rows: pd.DataFrame, top: int = TOP_FACTORS
            ) -> tuple[np.ndarray, list[list[dict[str, object]]]]:
    """Each row's probability and its `top` strongest factors, signed:
    [{"feature": "pushed 2×", "effect": -0.18}, ...] (effect as a share of 1)."""
    p, effects = trained.contributions(rows)
    records = rows.to_dict("records")
    out = []
    for i, record in enumerate(records):
        order = np.argsort(-np.abs(effects[i]))[:top]
        out.append([{"feature": describe_factor(FEATURES[j], record),
                     "effect": round(float(effects[i, j]), 4)} for j in order])
    return p, out
