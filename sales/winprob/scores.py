"""A view's deal scores and projection: what `python -m sales scores` prints, the report's
`projection` keys and what the pages draw
(docs/metrics.md#17-deal-win-probability-and-the-projection)."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from sales.export import csv_bytes
from sales.targets import target_for_view
from sales.view import Filters, View
from sales.winprob.model import TOP_FACTORS
from sales.winprob.projection import SEED, Learned, Projection, new_values, simulate

if TYPE_CHECKING:
    from sales.winprob.store import Scored

NOT_TRAINED = "no win-probability model yet: it is being trained from the history"
NO_SNAPSHOT = "no snapshot on or before as-of: nothing to score"
PROJECTION_KEYS = ("eligible", "reason", "p10", "p50", "p90", "mean", "prob_target", "target",
                   "closed", "expected_from_open", "expected_from_new", "deals_scored",
                   "refreshing")
DEAL_COLUMNS = ["opportunity_id", "owner", "segment", "stage", "category", "amount",
                "win_probability", "why", "factors"]


def _model_keys(learned: Learned | None) -> dict[str, object]:
    if learned is None:
        return {"kind": None, "trained_periods": [], "trained_rows": 0, "brier": None,
                "calibrated": False}
    return learned.trained.describe()


def _eligible(scored: Scored | None) -> bool:
    return scored is not None and scored.learned.trained.eligible and scored.snap is not None


def project_scored(scored: Scored, filters: Filters, target: float | None,
                   seed: int = SEED) -> Projection:
    """The projection of the view's deals from a period's stored scores: keep the filter's
    deals and closed won, then the Monte Carlo (sales.winprob.projection.simulate)."""
    # The draw's two number columns only: taking the deals' texts along cost more than the draw.
    kept = filters.mask(scored.deals)
    amounts = scored.deals["amount"].to_numpy(float)[kept]
    probabilities = scored.deals["win_probability"].to_numpy(float)[kept]
    closed = (float(scored.closed["won"].to_numpy(float)[filters.mask(scored.closed)].sum())
              if len(scored.closed) else 0.0)
    learned = scored.learned
    return simulate(closed, amounts, probabilities,
                    new_values(learned, filters, scored.week, float(amounts.sum())), target,
                    seed=seed, shock=learned.shock(scored.week))


def projection_keys(con: duckdb.DuckDBPyConnection, view: View, scored: Scored | None,
                    last_call: date | None = None, then: Scored | None = None
                    ) -> dict[str, object]:
    """The report's `projection.{…}`: the view's projection from the period's stored scores,
    or every number None with the reason there is none; with `last_call`, also
    `at_last_call.{as_of, p10, p50, p90, prob_target}` from the scores at that day (`then`).
    `refreshing`: the scores shown are the previous ones while new ones are computed."""
    target = target_for_view(con, view.period, view.filters).amount
    out: dict[str, object] = dict.fromkeys(PROJECTION_KEYS)
    out.update(eligible=False, target=target, refreshing=bool(scored and not scored.fresh),
               model=_model_keys(scored.learned if scored else None))
    if last_call is not None:
        earlier = project_scored(then, view.filters, target) if _eligible(then) else None
        out["at_last_call"] = {"as_of": last_call.isoformat(),
                               **{k: getattr(earlier, k) if earlier else None
                                  for k in ("p10", "p50", "p90", "prob_target")}}
    if scored is None:
        out["reason"] = NOT_TRAINED
        return out
    if not scored.learned.trained.eligible:
        out["reason"] = scored.learned.trained.reason
        return out
    if scored.snap is None:
        out["reason"] = NO_SNAPSHOT
        return out
    result = project_scored(scored, view.filters, target)
    out.update(eligible=True, reason=None, p10=result.p10, p50=result.p50, p90=result.p90,
               mean=result.mean, prob_target=result.prob_target, closed=result.closed,
               expected_from_open=result.expected_from_open,
               expected_from_new=result.expected_from_new, deals_scored=result.deals_scored)
    return out


def deal_scores(view: View, scored: Scored | None, ids: tuple[str, ...] | None = None
                ) -> pd.DataFrame:
    """The view's open, qualified deals closing in the period, scored: opportunity_id, owner,
    segment, stage, category, amount, win_probability, why (the factors as one line) and
    factors ([{"feature", "effect"}], strongest first; effect as a share of 1, signed).
    Only `ids` when given (a page of deals). Empty without an eligible model.
    Grain: one row per deal."""
    if not _eligible(scored) or not len(scored.deals):
        return pd.DataFrame(columns=DEAL_COLUMNS)
    deals = scored.deals
    if ids is not None:
        deals = deals[deals["opportunity_id"].isin(ids)]
    out = view.filters.keep(deals)
    ranks = [zip(out[f"feature_{i}"], out[f"effect_{i}"], strict=True)
             for i in range(1, TOP_FACTORS + 1)]  # per rank, each deal's (feature, effect)
    found = [[{"feature": f, "effect": float(e)} for f, e in row if f is not None]
             for row in zip(*ranks, strict=True)]
    out = out.assign(factors=found, why=[factor_text(f) for f in found])[DEAL_COLUMNS]
    return out.sort_values(["win_probability", "amount"], ascending=[False, False]
                           ).reset_index(drop=True)


def scores_report(view: View, scored: Scored | None) -> dict[str, object]:
    """`scores --format json`: {"model": {...}, "deals": [{"opportunity_id",
    "win_probability", "factors": [{"feature", "effect"}]}]}."""
    learned = scored.learned if scored else None
    model = {**_model_keys(learned), "eligible": bool(learned and learned.trained.eligible),
             "reason": (NOT_TRAINED if learned is None else learned.trained.reason),
             "period": view.period.label, "as_of": view.as_of.isoformat()}
    found = deal_scores(view, scored)
    return {"model": model,
            "deals": [{"opportunity_id": r.opportunity_id,
                       "win_probability": float(r.win_probability),
                       "factors": r.factors} for r in found.itertuples(index=False)]}


def factor_text(found: list[dict[str, object]]) -> str:
    """Factors as one line: 'pushed 2×: −18 pts · Commit for 5 weeks: +9 pts'."""
    return " · ".join(f"{f['feature']}: {points(float(f['effect']))}" for f in found)


def points(effect: float) -> str:
    """An effect (a share of 1) as signed probability points: '+9 pts', '−18 pts'."""
    value = round(effect * 100)
    return f"{'−' if value < 0 else '+'}{abs(value)} pts"


def render_scores(report: dict[str, object], output_format: str) -> str:
    """JSON as `scores_report`, or CSV: one row per deal (opportunity_id, win_probability,
    factors as text) through the formula-neutralising writer."""
    if output_format == "json":
        return json.dumps(report, indent=2) + "\n"
    if output_format == "csv":
        frame = pd.DataFrame(
            [{"opportunity_id": d["opportunity_id"], "win_probability": d["win_probability"],
              "factors": factor_text(d["factors"])} for d in report["deals"]],
            columns=["opportunity_id", "win_probability", "factors"])
        return csv_bytes(frame).decode()
    raise ValueError(f"unknown format {output_format!r}; choose json or csv")
