"""What the Roll-up page and its downloads show of the team roll-up (`sales.team_rollup`): a
row per person, the number before a manager's adjustment, and who may submit a call for whom."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd

from sales import backtest
from sales.hierarchy import Hierarchy, User, hierarchy_at
from sales.people_accuracy import PersonWeek, people_accuracy
from sales.team_rollup import PersonRollup
from sales.view import View

# The table's columns, in the order a manager reads them: the person's word, then what their
# pipeline says.
ROLLUP_COLUMNS = ("user", "title", "forecast", "upside", "submitted_at", "change_since_week",
                  "stale", "effective_forecast", "source", "team_forecast", "adjustment",
                  "without_adjustment", "closed", "commit", "best_case", "pipeline", "in_blood",
                  "directs")


def without_adjustment(person: PersonRollup) -> float | None:
    """The person's number before their own adjustment (`PersonRollup.without_adjustments`)."""
    return person.without_adjustments


def rollup_frame(people: dict[str, PersonRollup], names: list[str]) -> pd.DataFrame:
    """The roll-up of `names` (say, a manager's direct reports), in that order.

    Grain: one row per person: ROLLUP_COLUMNS, `directs` being how many report to them."""
    rows = []
    for name in names:
        person = people[name]
        row = {column: getattr(person, column, None) for column in ROLLUP_COLUMNS}
        row.update(user=name, without_adjustment=without_adjustment(person),
                   directs=len(person.directs))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(ROLLUP_COLUMNS))
    return frame.astype({"stale": bool, "directs": int})


def home_of(tree: Hierarchy, email: str | None) -> str | None:
    """The user a signed-in email is, in the hierarchy; None when it names nobody."""
    user = tree.user_for_email(email) if email else None
    return user.name if user is not None else None


def call_targets(tree: Hierarchy, by: str) -> list[str]:
    """Whose call `by` may submit from the Roll-up page: their own, then their direct
    reports' (recorded with `submitted_by`)."""
    return [by, *tree.directs(by)]


def with_user(tree: Hierarchy, user: User) -> list[User]:
    """The hierarchy's users with one added or changed (its manager, email, title), for
    `sales.hierarchy.replace_hierarchy`: the Access page's edit of one person is a whole new
    hierarchy, checked as one."""
    return [u for name, u in tree.users.items() if name != user.name] + [user]


def without_user(tree: Hierarchy, name: str) -> list[User]:
    """The hierarchy's users without one (their reports must move first, or the check refuses
    a manager who is not a user)."""
    return [u for n, u in tree.users.items() if n != name]


def hierarchy_frame(tree: Hierarchy) -> pd.DataFrame:
    """The hierarchy as a table, in reading order. Grain: one row per user: user, email,
    manager, title, directs (how many report to them)."""
    return pd.DataFrame(
        [{"user": n, "email": tree.users[n].email, "manager": tree.users[n].manager,
          "title": tree.users[n].title, "directs": len(tree.directs(n))} for n in tree.order()],
        columns=["user", "email", "manager", "title", "directs"])


def change(now: float | None, then: float | None) -> float | None:
    """now − then, None unless both are known (a call the week before, say)."""
    return None if now is None or then is None else now - then


def viewer_for_tiles(tree: Hierarchy, email: str | None, team_mode: bool) -> str | None:
    """Whose call the Forecast call page's tiles show: the signed-in person's; locally, the
    top of the hierarchy when there is one top (else nobody: there is no single viewer)."""
    if team_mode:
        return home_of(tree, email)
    tops = tree.tops()
    return tops[0] if len(tops) == 1 else None


def included_deals(members: pd.DataFrame, changes: Mapping[str, object]) -> tuple[str, ...]:
    """The deals a call counts on, from the in-blood board: the `members` (Commit and Best
    Case deals: opportunity_id, start_included) that are included once the session's
    `changes` (opportunity id → `sales.inblood.Change`) are applied, sorted."""
    return tuple(sorted(
        row.opportunity_id for row in members.itertuples(index=False)
        if (changes[row.opportunity_id].included if row.opportunity_id in changes
            else bool(row.start_included))))


ACCURACY_COLUMNS = ("user", "title", "role", "weeks", "mean_abs_error", "bias",
                    "team_raw_mean_abs_error", "adjustment_helped")


def accuracy_frame(found: Mapping[str, Mapping[str, Mapping[int, PersonWeek]]],
                   tree: Hierarchy) -> pd.DataFrame:
    """Who calls it right (`sales.people_accuracy.people_accuracy`'s weeks): per person the
    mean |error| and the bias (mean signed error) of their calls; for a manager, beside it,
    the mean |error| the raw sum of their direct reports' calls would have had over the same
    weeks (those where the manager and every direct report had a call), and whether their
    adjustment brought the number closer.

    Grain: one row per person with at least one judged week, closest first."""
    rows = []
    for name, by_period in found.items():
        own = [x.error for weeks in by_period.values() for x in weeks.values()
               if x.error is not None]
        if not own:
            continue
        directs = tree.directs(name)
        pairs = [(x.error, _raw_error(found, directs, period, week, x.actual))
                 for period, weeks in by_period.items() for week, x in weeks.items()
                 if x.error is not None and directs]
        pairs = [(mine, raw) for mine, raw in pairs if raw is not None]
        raw_mae = sum(abs(raw) for _, raw in pairs) / len(pairs) if pairs else None
        mine_mae = sum(abs(mine) for mine, _ in pairs) / len(pairs) if pairs else None
        user = tree.users.get(name)
        rows.append({"user": name, "title": user.title if user else None,
                     "role": "manager" if directs else "rep", "weeks": len(own),
                     "mean_abs_error": sum(abs(e) for e in own) / len(own),
                     "bias": sum(own) / len(own), "team_raw_mean_abs_error": raw_mae,
                     "adjustment_helped": None if raw_mae is None else mine_mae < raw_mae})
    frame = pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS))
    return frame.sort_values(["mean_abs_error", "user"], kind="stable", ignore_index=True)


def _raw_error(found, directs: list[str], period: str, week: int, actual: float
               ) -> float | None:
    """(Σ the direct reports' calls − actual) / actual that week; None unless each had one."""
    calls = [found.get(d, {}).get(period, {}).get(week) for d in directs]
    if not actual or any(c is None or c.forecast is None for c in calls):
        return None
    return (sum(c.forecast for c in calls) - actual) / actual


def top_calls_by_week(found: Mapping[str, Mapping[str, Mapping[int, PersonWeek]]],
                      tree: Hierarchy) -> list[dict[str, object]]:
    """The board pack's track record of the top of the hierarchy: per top user and week of
    the period, the mean |error| of their calls over the periods that had one.

    Grain: one record per (top user, week with a judged call): week, user, mean_abs_error."""
    rows = []
    for top in tree.tops():
        by_week: dict[int, list[float]] = {}
        for weeks in found.get(top, {}).values():
            for week, x in weeks.items():
                if x.error is not None:
                    by_week.setdefault(week, []).append(abs(x.error))
        rows += [{"week": week, "user": top, "mean_abs_error": sum(errors) / len(errors)}
                 for week, errors in sorted(by_week.items())]
    return rows


def top_call_keys(con: duckdb.DuckDBPyConnection, view: View) -> list[dict[str, object]]:
    """The report's `accuracy.top_calls`: `top_calls_by_week` over the completed periods the
    track record reads (`sales.backtest.track_record`), through the view's filters."""
    periods = backtest.default_periods(view.as_of, view.period.fy_start_month, view.period.kind,
                                       backtest.DEFAULT_PERIODS)
    weeks = {p.label: [backtest.week_day(p, w) for w in range(1, backtest.week_count(p) + 1)]
             for p in periods}
    found = people_accuracy(con, list(periods), view.as_of, view.filters, weeks)
    return top_calls_by_week(found, hierarchy_at(con, view.as_of))
