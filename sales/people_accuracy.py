"""Who calls it right: each person's calls replayed week by week against what their subtree
closed (docs/metrics.md#14-the-forecast-roll-up).

For each completed period P and week w (A_w as in `sales.backtest`), a person's forecast is
their latest call for P submitted by the end of A_w; the actual is closed won in P of the deals
owned by them or anyone below them, as known at the backtest's as-of (the hierarchy and the
deals then, through the filters); error = (forecast − actual) / actual, as for the methods.
Per person: the mean absolute error and the bias (mean signed error) over the weeks with one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales.hierarchy import hierarchy_at
from sales.people_calls import calls_by, end_of
from sales.periods import Period
from sales.stages import CLOSED
from sales.team_rollup import amounts_by_owner
from sales.view import Filters, View, ratio


@dataclass(frozen=True)
class PersonWeek:
    forecast: float | None
    actual: float
    error: float | None


def people_accuracy(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date,
                    filters: Filters, weeks: dict[str, list[date]]
                    ) -> dict[str, dict[str, dict[int, PersonWeek]]]:
    """user → period label → week → PersonWeek, for every user in the hierarchy at as-of
    (`weeks`: each period's A_w, week 1 first)."""
    tree = hierarchy_at(con, as_of)
    found: dict[str, dict[str, dict[int, PersonWeek]]] = {name: {} for name in tree.order()}
    for period in periods:
        won = {owner: amounts.get(CLOSED, 0.0) for owner, amounts in
               amounts_by_owner(con, View(period, as_of, filters)).items()}
        calls = calls_by(con, period.label, end_of(max(weeks[period.label])))
        for name in found:
            actual = sum(won.get(owner, 0.0) for owner in tree.subtree(name))
            mine = calls.get(name, [])
            found[name][period.label] = {}
            for week, day in enumerate(weeks[period.label], start=1):
                standing = [c for c in mine if c.submitted_at < end_of(day)]
                forecast = standing[-1].forecast if standing else None
                error = None if forecast is None else ratio(forecast - actual, actual)
                found[name][period.label][week] = PersonWeek(forecast, actual, error)
    return found


def people_report(found: dict[str, dict[str, dict[int, PersonWeek]]]) -> dict[str, dict]:
    """The backtest's `people` and `people_summary` keys."""
    people = {name: {p: {f"w{w}": {"forecast": x.forecast, "actual": x.actual,
                                   "error": x.error} for w, x in by_week.items()}
                     for p, by_week in by_period.items()}
              for name, by_period in found.items()}
    summary = {}
    for name, by_period in found.items():
        errors = [x.error for by_week in by_period.values() for x in by_week.values()
                  if x.error is not None]
        summary[name] = {"mean_abs_error": sum(abs(e) for e in errors) / len(errors)
                         if errors else None,
                         "bias": sum(errors) / len(errors) if errors else None,
                         "weeks": len(errors)}
    return {"people": people, "people_summary": summary}
