"""Plan: which target applies to a view (docs/data-model.md#targets)."""

from __future__ import annotations

from typing import NamedTuple

import duckdb

from sales.periods import QUARTER, Period
from sales.view import Filters

TARGET_SCOPES = ("company", "segment", "region", "team", "owner")


class Target(NamedTuple):
    """The target for a view, or why there is none (amount None, `reason` says why)."""

    amount: float | None
    reason: str

    @property
    def defined(self) -> bool:
        return self.amount is not None


def _period_amounts(con: duckdb.DuckDBPyConnection, period: Period, scope: str,
                    values: tuple[str, ...]) -> dict[str, float]:
    """Target per scope value for the period; a quarter without its own row sums its months."""
    labels = [period.label] + [m.label for m in period.months() if period.kind == QUARTER]
    rows = con.cursor().execute(
        f"""select scope_value, period, amount from targets
            where scope = ? and scope_value in ({', '.join('?' * len(values))})
              and period in ({', '.join('?' * len(labels))})""",  # noqa: S608 - placeholders only
        [scope, *values, *labels],
    ).fetchall()
    own = {v: float(a) for v, p, a in rows if p == period.label}
    months: dict[str, dict[str, float]] = {}
    for value, label, amount in rows:
        if label != period.label:
            months.setdefault(value, {})[label] = float(amount)
    for value, by_month in months.items():
        if value not in own and len(by_month) == 3:
            own[value] = sum(by_month.values())
    return own


def targets_fit(filters: Filters, dimension: str) -> bool:
    """The one rule for targets set per value of a dimension (segment, region, team or owner):
    they fit a view cut by nothing else. With Region = EMEA, a segment's target is the whole
    company's Enterprise plan, not EMEA's, so a segment's attainment or coverage would divide
    EMEA's deals by it: there is no target for that view."""
    return set(filters.active()) <= {dimension}


NO_TARGET_FOR_VIEW = ("no target for this view (targets exist per segment, region, team or "
                      "owner, one dimension at a time)")


def target_for_view(con: duckdb.DuckDBPyConnection, period: Period,
                    filters: Filters = Filters()) -> Target:
    """Company target with no filter; with exactly one of segment/region/team/owner filtered,
    the sum of that dimension's targets for the selected values; otherwise none."""
    active = filters.active()
    if not active:
        amounts = _period_amounts(con, period, "company", ("",))
        if "" in amounts:
            return Target(amounts[""], "company target")
        return Target(None, f"no company target for {period.label}")
    scope, values = next(iter(active.items()))
    if scope not in TARGET_SCOPES or not targets_fit(filters, scope):
        return Target(None, NO_TARGET_FOR_VIEW)
    amounts = _period_amounts(con, period, scope, values)
    missing = [v for v in values if v not in amounts]
    if missing:
        return Target(None, f"no target for this view ({scope} {', '.join(missing)} has no "
                            f"target for {period.label})")
    return Target(sum(amounts.values()), f"sum of {scope} targets")


def targets_by(con: duckdb.DuckDBPyConnection, period: Period, scope: str,
               values: list[str]) -> dict[str, float]:
    """Target per value of one scope for the period (values without a target are left out)."""
    if scope not in TARGET_SCOPES or not values:
        return {}
    return _period_amounts(con, period, scope, tuple(values))


def scope_values(con: duckdb.DuckDBPyConnection, scope: str) -> list[str]:
    """Every value of a scope that has a target in some period."""
    rows = con.cursor().execute("select distinct scope_value from targets where scope = ?",
                                [scope]).fetchall()
    return [r[0] for r in rows]


def view_targets(con: duckdb.DuckDBPyConnection, view_filters: Filters, period: Period,
                 dimension: str, values: list[str] | None = None) -> dict[str, float]:
    """Target per value of `dimension` for the period, where they fit the view (`targets_fit`;
    otherwise none): the values given, else every value with a target — only the filter's
    values when the view is cut by this dimension."""
    if not targets_fit(view_filters, dimension):
        return {}
    chosen = set(values if values is not None else scope_values(con, dimension))
    if view_filters.active().get(dimension):  # a value filtered out stays out
        chosen &= set(view_filters.active()[dimension])
    return targets_by(con, period, dimension, sorted(chosen))
