"""Plan: which target applies to a view (SPEC "targets")."""

from __future__ import annotations

from typing import NamedTuple

import duckdb

from sales.periods import QUARTER, Period
from sales.query import Filters

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
    if len(active) > 1 or next(iter(active)) not in TARGET_SCOPES:
        return Target(None, "no target for this view (targets exist per segment, region, team "
                            "or owner, one dimension at a time)")
    scope, values = next(iter(active.items()))
    amounts = _period_amounts(con, period, scope, values)
    missing = [v for v in values if v not in amounts]
    if missing:
        return Target(None, f"no target for this view ({scope} {', '.join(missing)} has no "
                            f"target for {period.label})")
    return Target(sum(amounts.values()), f"sum of {scope} targets")


def annual_quota(con: duckdb.DuckDBPyConnection, quarters: list[Period], owner: str) -> float | None:
    """An owner's annual quota: the sum of their targets for the fiscal year's four quarters."""
    total = 0.0
    for quarter in quarters:
        amounts = _period_amounts(con, quarter, "owner", (owner,))
        if owner not in amounts:
            return None
        total += amounts[owner]
    return total


def targets_by(con: duckdb.DuckDBPyConnection, period: Period, scope: str,
               values: list[str]) -> dict[str, float]:
    """Target per value of one scope for the period (values without a target are left out)."""
    if scope not in TARGET_SCOPES or not values:
        return {}
    return _period_amounts(con, period, scope, tuple(values))
