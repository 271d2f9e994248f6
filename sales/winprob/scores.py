"""A view's deal scores and projection: what `python -m sales scores` prints, the report's
`projection` keys and what the pages draw
(docs/metrics.md#17-deal-win-probability-and-the-projection)."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd

from sales.export import csv_bytes
from sales.targets import target_for_view
from sales.view import View
from sales.winprob.model import factors
from sales.winprob.projection import Learned, project, score_rows

NOT_TRAINED = "no win-probability model yet: it is being trained from the history"
PROJECTION_KEYS = ("eligible", "reason", "p10", "p50", "p90", "mean", "prob_target", "target",
                   "closed", "expected_from_open", "expected_from_new", "deals_scored")


def _model_keys(learned: Learned | None) -> dict[str, object]:
    if learned is None:
        return {"kind": None, "trained_periods": [], "trained_rows": 0, "brier": None,
                "calibrated": False}
    return learned.trained.describe()


def projection_keys(con: duckdb.DuckDBPyConnection, view: View, learned: Learned | None,
                    last_call: date | None = None) -> dict[str, object]:
    """The report's `projection.{…}`: the view's projection, or every number None with the
    reason there is no model; with `last_call`, also `at_last_call.{as_of, p10, p50, p90,
    prob_target}`: the same model scoring the deals as they stood that day."""
    target = target_for_view(con, view.period, view.filters).amount
    out: dict[str, object] = dict.fromkeys(PROJECTION_KEYS)
    out.update(eligible=False, target=target, model=_model_keys(learned))
    if last_call is not None:
        then = (project(con, learned, view.period, last_call, view.filters, target)[0]
                if learned is not None and learned.trained.eligible else None)
        out["at_last_call"] = {"as_of": last_call.isoformat(),
                               **{k: getattr(then, k) if then else None
                                  for k in ("p10", "p50", "p90", "prob_target")}}
    if learned is None:
        out["reason"] = NOT_TRAINED
        return out
    if not learned.trained.eligible:
        out["reason"] = learned.trained.reason
        return out
    result, _ = project(con, learned, view.period, view.as_of, view.filters, target)
    if result is None:
        out["reason"] = "no snapshot on or before as-of: nothing to score"
        return out
    out.update(eligible=True, reason=None, p10=result.p10, p50=result.p50, p90=result.p90,
               mean=result.mean, prob_target=result.prob_target, closed=result.closed,
               expected_from_open=result.expected_from_open,
               expected_from_new=result.expected_from_new, deals_scored=result.deals_scored)
    return out


def deal_scores(con: duckdb.DuckDBPyConnection, view: View, learned: Learned | None
                ) -> pd.DataFrame:
    """The view's open, qualified deals closing in the period, scored: opportunity_id, the
    filter dimensions, stage, category, amount, win_probability and factors (a list of
    {"feature", "effect"}, strongest first; effect as a share of 1, signed). Empty without an
    eligible model. Grain: one row per deal."""
    columns = ["opportunity_id", "owner", "segment", "stage", "category", "amount",
               "win_probability", "factors"]
    if learned is None or not learned.trained.eligible:
        return pd.DataFrame(columns=columns)
    _, rows = score_rows(con, view.period, view.as_of, view.filters)
    if not len(rows):
        return pd.DataFrame(columns=columns)
    probabilities, found = factors(learned.trained, rows)
    out = rows.assign(win_probability=probabilities, factors=found)[columns]
    return out.sort_values(["win_probability", "amount"], ascending=[False, False]
                           ).reset_index(drop=True)


def scores_report(con: duckdb.DuckDBPyConnection, view: View, learned: Learned | None
                  ) -> dict[str, object]:
    """`scores --format json`: {"model": {...}, "deals": [{"opportunity_id",
    "win_probability", "factors": [{"feature", "effect"}]}]}."""
    model = {**_model_keys(learned), "eligible": bool(learned and learned.trained.eligible),
             "reason": (NOT_TRAINED if learned is None else learned.trained.reason),
             "period": view.period.label, "as_of": view.as_of.isoformat()}
    scored = deal_scores(con, view, learned)
    return {"model": model,
            "deals": [{"opportunity_id": r.opportunity_id,
                       "win_probability": float(r.win_probability),
                       "factors": list(r.factors)} for r in scored.itertuples(index=False)]}


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
