"""Who owes a call this week (docs/metrics.md#16-call-reminders): the digest lists them, and
a reminder goes to each before the call is due.

The week's due moment is the period's next due moment (`call_due_weekday` at `call_due_time`,
in the `timezone` setting) at or after now — the latest one, when the period has none left; a
user has called this week with a call for the period submitted in the seven days before it.
Reminders go from `reminder_hours_before` hours before the due moment until it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from sales.hierarchy import User, hierarchy_at
from sales.people_calls import calls_by, due_moments
from sales.periods import Period
from sales.query import deals_sql, state_key
from sales.settings import Settings
from sales.sql import sql
from sales.view import View

WEEK = timedelta(days=7)
REMINDER_RULE = "call_reminder"


def week_due(period: Period, now: datetime, settings: Settings) -> datetime | None:
    """The due moment this week's calls count towards; None when the period has none."""
    moments = due_moments(period, settings)
    upcoming = [m for m in moments if m >= now]
    return upcoming[0] if upcoming else (moments[-1] if moments else None)


def without_call(con: duckdb.DuckDBPyConnection, period: Period, users: list[str],
                 due: datetime) -> list[str]:
    """Of `users`, those without a call for the period in the week before `due`, sorted."""
    calls = calls_by(con, period.label, due)
    return sorted(u for u in users
                  if not any(c.submitted_at >= due - WEEK for c in calls.get(u, [])))


def users_in_view(con: duckdb.DuckDBPyConnection, view: View) -> list[User]:
    """The hierarchy's users whose deals the view may show: all without a filter, else those
    owning a deal in it (or named by an owner filter)."""
    tree = hierarchy_at(con, view.as_of)
    if not view.filters.active():
        return list(tree.users.values())
    deals = deals_sql(state_key(con, view.as_of), view.filters)
    owners = {r[0] for r in con.cursor().execute(
        *sql(f"select distinct owner from ({deals}) d", deals)).fetchall()}  # noqa: S608
    owners |= set(view.filters.owner)
    return [u for name, u in tree.users.items() if name in owners]


def missing_calls(con: duckdb.DuckDBPyConnection, view: View, settings: Settings,
                  now: datetime) -> tuple[str, ...] | None:
    """The digest's "not submitted this week" for the view; None when there is no hierarchy
    (nobody to ask) or no due moment in the period."""
    users = users_in_view(con, view)
    due = week_due(view.period, now, settings)
    if not users or due is None:
        return None
    return tuple(without_call(con, view.period, [u.name for u in users], due))


def reminders_due(con: duckdb.DuckDBPyConnection, period: Period, settings: Settings,
                  now: datetime) -> tuple[datetime | None, list[User]]:
    """The due moment and the users to remind now: nobody outside the window before it."""
    due = week_due(period, now, settings)
    if due is None or not (due - timedelta(hours=settings.reminder_hours_before) <= now < due):
        return due, []
    tree = hierarchy_at(con, now.date())
    names = without_call(con, period, list(tree.users), due)
    return due, [tree.users[n] for n in names]
