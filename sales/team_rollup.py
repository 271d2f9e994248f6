"""The forecast roll-up: every person's call beside their team's and what their pipeline says
(docs/metrics.md#14-the-forecast-roll-up).

For each user in the hierarchy at as-of:

- forecast, upside, submitted_at: their latest call for the period by the end of as-of;
- closed, commit, best_case, pipeline: the CRM's amounts (closed won; open, qualified by
  category) closing in the period, of the deals owned by them or anyone below them at as-of,
  through the view's filters (each deal under its owner's place in the hierarchy at as-of);
- team_forecast: Σ effective_forecast of their direct reports (None without reports);
- effective_forecast: their forecast when they have a call; else team_forecast + the closed +
  commit of the deals they own themselves (a manager, source `roll-up`); else closed + commit
  (source `crm`);
- adjustment: a manager's call − (team_forecast + their own deals' closed + commit), so a
  rep's number is never overwritten and the manager's judgement stays visible;
- stale: no call since the latest due moment on or before as-of in the period.

The CRM amounts are read in one query grouped by owner and category and summed over subtrees
here, so the cost does not grow with the number of people.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

from sales.hierarchy import Hierarchy, hierarchy_at
from sales.inblood import default_totals
from sales.people_calls import PersonCall, calls_by, end_of, is_stale, latest_due
from sales.periods import Period
from sales.query import latest_snapshot
from sales.rollup import category_rollup, deals_in_period, rollup_at
from sales.settings import Settings
from sales.sql import sql
from sales.stages import BEST_CASE, CLOSED, COMMIT, OPEN_CATEGORIES, PIPELINE
from sales.view import FILTER_DIMENSIONS, Filters, View

CALL, ROLL_UP, CRM = "call", "roll-up", "crm"
# The name a held amounts cube is registered under for one query.
_CUBE = "team_rollup_amounts"
# The report's key for each CRM category of a row.
_AMOUNT_KEYS = {CLOSED: "closed", COMMIT: "commit", BEST_CASE: "best_case", PIPELINE: "pipeline"}
REPORT_KEYS = ("forecast", "upside", "submitted_at", "stale", "effective_forecast", "source",
               "team_forecast", "adjustment", "closed", "commit", "best_case", "pipeline",
               "in_blood", "change_since_week", "without_adjustments")


@dataclass(frozen=True)
class PersonRollup:
    """One person's row of the roll-up. Grain: one user, the view's period at its as-of."""

    user: str
    title: str | None
    manager: str | None
    forecast: float | None
    upside: float | None
    submitted_at: datetime | None
    stale: bool
    effective_forecast: float
    source: str  # CALL, ROLL_UP or CRM
    team_forecast: float | None
    adjustment: float | None
    closed: float
    commit: float
    best_case: float
    pipeline: float
    in_blood: float  # the default rules over the subtree's deals
    change_since_week: float | None  # forecast now − the latest call a week earlier
    directs: tuple[str, ...] = ()
    submitted_by: str | None = None

    @property
    def without_adjustments(self) -> float:
        """Their number before their own adjustment: for a manager with a call, the team's
        calls + Closed and Commit of the deals they own themselves (= forecast − adjustment);
        otherwise their number as it stands (a rep's call, a roll-up, the CRM's)."""
        return self.effective_forecast - (self.adjustment or 0.0)

    def as_report(self) -> dict[str, object]:
        """The report's `rollup.<user>` keys."""
        return {"forecast": self.forecast, "upside": self.upside,
                "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
                "stale": self.stale, "effective_forecast": self.effective_forecast,
                "source": self.source, "team_forecast": self.team_forecast,
                "adjustment": self.adjustment, "closed": self.closed, "commit": self.commit,
                "best_case": self.best_case, "pipeline": self.pipeline,
                "in_blood": self.in_blood, "change_since_week": self.change_since_week,
                "without_adjustments": self.without_adjustments}


def amounts_cube(con: duckdb.DuckDBPyConnection, period: Period, as_of: date) -> pa.Table:
    """`amounts_by_owner`'s amounts for every view of the period as of the date at once: summed
    per owner, category and the other filter dimensions. Filter-free, so a caller may hold it
    while the filters change (a view's sums are then exact sums of these sums). Grain: one row
    per (owner, category, segment, region, team, type, channel)."""
    deals = deals_in_period(con, View(period, as_of, Filters()))
    dimensions = ", ".join(FILTER_DIMENSIONS)
    query = sql(f"""select {dimensions}, category, sum(amount) as amount from ({deals})
                    where owner is not null and list_contains($counted, category)
                    group by all""",  # noqa: S608 - fixed SQL
                deals, counted=list(_AMOUNT_KEYS))
    return con.cursor().sql(query.text, params=dict(query.params)).to_arrow_table()


def amounts_by_owner(con: duckdb.DuckDBPyConnection, view: View, cube: pa.Table | None = None
                     ) -> dict[str, dict[str, float]]:
    """Closed won and the open, qualified amounts by category closing in the view's period,
    per owner (one query; from `amounts_cube` of the view's period and date when the caller
    holds it). Grain: owner → category → amount."""
    cur = con.cursor()
    if cube is None:
        deals = deals_in_period(con, view)
        source = sql(f"""select * from ({deals}) where owner is not null
                         and list_contains($counted, category)""",  # noqa: S608
                     deals, counted=list(_AMOUNT_KEYS))
    else:
        cur.register(_CUBE, cube)
        condition = view.filters.condition()
        source = sql(f"select * from {_CUBE} where {condition}", condition)  # noqa: S608
    try:
        rows = cur.execute(*sql(
            f"""select owner, category, coalesce(sum(amount), 0)::double from ({source})
                group by 1, 2""", source)).fetchall()  # noqa: S608 - fixed SQL
    finally:
        cur.close()
    found: dict[str, dict[str, float]] = {}
    for owner, category, amount in rows:
        found.setdefault(owner, {})[category] = float(amount)
    return found


def team_rollup(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                cube: pa.Table | None = None) -> dict[str, PersonRollup]:
    """Every user in the hierarchy at the view's as-of, in reading order (each top's subtree
    in turn); `cube` is `amounts_cube` for the view's period and as-of when the caller holds
    it."""
    tree = hierarchy_at(con, view.as_of)
    if not tree.users:
        return {}
    own = amounts_by_owner(con, view, cube)
    period = view.period.label
    calls = calls_by(con, period, end_of(view.as_of))
    week_ago = end_of(view.as_of - timedelta(days=7))
    due = latest_due(view.period, view.as_of, settings)
    rows: dict[str, PersonRollup] = {}

    def build(name: str) -> PersonRollup:
        directs = tuple(tree.directs(name))
        below = [build(d) for d in directs]
        mine = own.get(name, {})
        sums = {c: mine.get(c, 0.0) + sum(getattr(r, _AMOUNT_KEYS[c]) for r in below)
                for c in _AMOUNT_KEYS}
        own_base = mine.get(CLOSED, 0.0) + mine.get(COMMIT, 0.0)
        team = sum(r.effective_forecast for r in below) if directs else None
        history = calls.get(name, [])
        latest = history[-1] if history else None
        earlier = [c for c in history if c.submitted_at < week_ago]
        if latest is not None:
            effective, source = latest.forecast, CALL
        elif team is not None:
            effective, source = team + own_base, ROLL_UP
        else:
            effective, source = own_base, CRM
        adjustment = (latest.forecast - (team + own_base)
                      if latest is not None and team is not None else None)
        blood = default_totals(sums[CLOSED], {c: sums[c] for c in OPEN_CATEGORIES}, settings)
        user = tree.users[name]
        row = PersonRollup(
            name, user.title, user.manager, _field(latest, "forecast"),
            _field(latest, "upside"), _field(latest, "submitted_at"), is_stale(latest, due),
            effective, source, team, adjustment, sums[CLOSED], sums[COMMIT], sums[BEST_CASE],
            sums[PIPELINE], blood.number,
            latest.forecast - earlier[-1].forecast if latest and earlier else None, directs,
            _field(latest, "submitted_by"))
        rows[name] = row
        return row

    for top in tree.tops():
        build(top)
    return {name: rows[name] for name in tree.order()}


def _field(call: PersonCall | None, name: str) -> object:
    return getattr(call, name) if call is not None else None


def rollup_report(con: duckdb.DuckDBPyConnection, view: View, settings: Settings
                  ) -> dict[str, dict[str, object]]:
    """The report's `rollup` keys: user → `PersonRollup.as_report()`."""
    return {name: row.as_report() for name, row in team_rollup(con, view, settings).items()}


def subtree_view(view: View, tree: Hierarchy, user: str) -> View:
    """The view narrowed to the deals owned in a user's subtree (within its own filters)."""
    owners = tuple(tree.subtree(user)) or ("",)
    return replace(view, filters=view.filters.within(Filters.of(owner=owners)))


def calls_over_period(con: duckdb.DuckDBPyConnection, view: View, user: str) -> pd.DataFrame:
    """A person's calls across the period against their subtree's CRM amounts, for a line
    chart. Grain: one row per day that has a call or a snapshot in the period up to as-of:
    date, forecast and upside (the latest call by the end of that day; NaN before the first),
    closed (won), commit, best_case, pipeline of the subtree's deals as they stood that day."""
    columns = ["date", "forecast", "upside", *_AMOUNT_KEYS.values()]
    tree = hierarchy_at(con, view.as_of)
    if user not in tree.users:
        return pd.DataFrame(columns=columns)
    end = min(view.as_of, view.period.end)
    mine = calls_by(con, view.period.label, end_of(view.as_of)).get(user, [])
    snapshots = [r[0] for r in con.cursor().execute(
        "select snapshot_date from snapshot_dates where snapshot_date between ? and ?",
        [view.period.start, end]).fetchall()]
    days = sorted({*snapshots, *(c.submitted_at.date() for c in mine), end})
    days = [d for d in days if view.period.start <= d <= end]
    if not days:
        return pd.DataFrame(columns=columns)
    narrowed = subtree_view(view, tree, user)
    if snapshots or latest_snapshot(con) is not None:
        levels = rollup_at(con, narrowed, days).set_index("day")
    else:  # deals without history: they stand as they are on every day
        now = category_rollup(con, narrowed)
        levels = pd.DataFrame({c: [now[c].amount] * len(days) for c in _AMOUNT_KEYS},
                              index=days)
    rows = []
    for day in days:
        standing = [c for c in mine if c.submitted_at < end_of(day)]
        call = standing[-1] if standing else None
        rows.append({"date": day, "forecast": _field(call, "forecast"),
                     "upside": _field(call, "upside"),
                     **{key: float(levels.loc[day, c]) for c, key in _AMOUNT_KEYS.items()}})
    return pd.DataFrame(rows, columns=columns).astype({"forecast": "float64",
                                                      "upside": "float64"})

