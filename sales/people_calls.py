"""The people's forecast calls: each rep's and manager's number for a period
(docs/metrics.md#14-the-forecast-roll-up).

A call is (user, period, forecast, upside, note, submitted_at, submitted_by), optionally with
the Commit and Best Case deals it counts on. Forecast: "I will close at least this much";
upside: "there is a chance of this much more". Calls are immutable: a new one adds a row, the
history stays. A manager may enter a call for someone below them (recorded in
`submitted_by`). Times are naive, in the `timezone` setting; "as of a day" is the end of it.

Calls are due weekly (`call_due_weekday` at `call_due_time`): a user whose latest call is older
than the latest due moment on or before as-of is stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from sales import audit
from sales.hierarchy import hierarchy_in
from sales.periods import Period, parse_period
from sales.settings import Settings, due_time, due_weekday, load_settings, zone

MAX_NOTE_LENGTH = 2_000
# A call's deals are the ones a person picked on the board; a few hundred at most.
MAX_DEALS = 5_000


class CallError(ValueError):
    """A call that cannot be recorded; the one-line message says why. Nothing was written."""


@dataclass(frozen=True)
class PersonCall:
    """One call as recorded."""

    call_id: int
    user: str
    period: str
    forecast: float
    upside: float
    note: str
    submitted_at: datetime
    submitted_by: str
    deals: tuple[str, ...] = ()


def now_in(settings: Settings) -> datetime:
    """This moment in the `timezone` setting, naive and to the second (how calls are stored)."""
    return datetime.now(zone(settings)).replace(tzinfo=None, microsecond=0)


def end_of(day: date) -> datetime:
    """The first moment after `day`: "as of a day" counts what happened before it."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def submit_call(con: duckdb.DuckDBPyConnection, user: str, period: str, forecast: float,
                upside: float = 0.0, note: str = "", at: datetime | None = None,
                by: str | None = None, deals: tuple[str, ...] = ()) -> PersonCall:
    """Record a call inside the caller's write transaction and put it on the audit trail.

    Refused with CallError (nothing written): a negative amount, an unknown period label, a
    user not in the hierarchy as it stood at `at`, a `by` who is neither the user nor above
    them then, a period that ended before `at`. `at` defaults to now (in the `timezone`
    setting), `by` to the user."""
    settings = load_settings(con)
    user, by = (user or "").strip(), (by or user or "").strip()
    at = (at or now_in(settings)).replace(microsecond=0)
    if forecast is None or forecast < 0 or upside is None or upside < 0:
        raise CallError("forecast and upside are amounts of 0 or more")
    if len(note or "") > MAX_NOTE_LENGTH or len(deals) > MAX_DEALS:
        raise CallError(f"a note is up to {MAX_NOTE_LENGTH:,} characters")
    try:
        label = parse_period(period, settings.fiscal_year_start_month)
    except ValueError as error:
        raise CallError(str(error)) from None
    if label.end < at.date():
        raise CallError(f"{label.label} ended on {label.end}, before {at:%Y-%m-%d %H:%M}")
    tree = hierarchy_in(con, at.date())
    if user not in tree.users:
        raise CallError(f"unknown user '{user}': not in the hierarchy on {at.date()}")
    if by != user and by not in tree.chain(user):
        raise CallError(f"'{by}' may not submit for '{user}': only they or someone above them "
                        f"(on {at.date()}: {' → '.join(tree.chain(user)) or 'nobody'})")
    call_id = con.execute(
        """insert into people_calls (user_name, period, forecast, upside, note, submitted_at,
                                     submitted_by)
           values (?, ?, ?, ?, ?, ?, ?) returning call_id""",
        [user, label.label, forecast, upside, (note or "").strip(), at, by]).fetchall()[0][0]
    chosen = tuple(dict.fromkeys(d.strip() for d in deals if d and d.strip()))
    if chosen:
        con.executemany("insert into people_call_deals values (?, ?)",
                        [[call_id, d] for d in chosen])
    entered = f" (entered by {by})" if by != user else ""
    audit.record(con, by, audit.SAVED_CALL,
                 f"{user}'s call for {label.label}: forecast {forecast:,.0f}, upside "
                 f"{upside:,.0f}{entered}", at)
    return PersonCall(int(call_id), user, label.label, float(forecast), float(upside),
                      (note or "").strip(), at, by, chosen)


_CALL_COLUMNS = ["call_id", "user", "period", "forecast", "upside", "note", "submitted_at",
                 "submitted_by", "deals"]


def people_call_history(con: duckdb.DuckDBPyConnection, period: str | None = None,
                        user: str | None = None) -> pd.DataFrame:
    """Every call, optionally of one period and/or one user, oldest first.

    Grain: one row per call. Columns: call_id, user, period, forecast, upside, note,
    submitted_at, submitted_by, deals (a list of opportunity ids)."""
    frame = con.cursor().execute(
        """select c.call_id, c.user_name as user, c.period, c.forecast::double as forecast,
                  c.upside::double as upside, c.note, c.submitted_at, c.submitted_by,
                  coalesce(list(d.opportunity_id order by d.opportunity_id)
                           filter (where d.opportunity_id is not null), []) as deals
           from people_calls c left join people_call_deals d using (call_id)
           where ($period is null or c.period = $period)
             and ($user is null or c.user_name = $user)
           group by all order by c.submitted_at, c.call_id""",
        {"period": period, "user": user}).df()
    return frame[_CALL_COLUMNS]


def calls_by(con: duckdb.DuckDBPyConnection, period: str, before: datetime
             ) -> dict[str, list[PersonCall]]:
    """Each user's calls for the period submitted before a moment, oldest first (the deals
    left out: the roll-up does not read them)."""
    rows = con.cursor().execute(
        """select call_id, user_name, period, forecast::double, upside::double, note,
                  submitted_at, submitted_by
           from people_calls where period = ? and submitted_at < ?
           order by submitted_at, call_id""", [period, before]).fetchall()
    found: dict[str, list[PersonCall]] = {}
    for row in rows:
        found.setdefault(row[1], []).append(PersonCall(*row))
    return found


def latest_calls(con: duckdb.DuckDBPyConnection, period: str, as_of: date
                 ) -> dict[str, PersonCall]:
    """Each user's latest call for the period submitted by the end of `as_of`."""
    return {user: calls[-1] for user, calls in calls_by(con, period, end_of(as_of)).items()}


def due_moments(period: Period, settings: Settings) -> list[datetime]:
    """Every moment a call is due inside the period: `call_due_weekday` at `call_due_time`
    (naive, in the `timezone` setting), oldest first."""
    weekday, at = due_weekday(settings), due_time(settings)
    first = period.start + timedelta(days=(weekday - period.start.weekday()) % 7)
    days = (period.end - first).days
    return [datetime.combine(first + timedelta(days=7 * k), at)
            for k in range(days // 7 + 1)] if days >= 0 else []


def latest_due(period: Period, as_of: date, settings: Settings) -> datetime | None:
    """The latest due moment of the period on or before the end of `as_of`; None before the
    first."""
    moments = [m for m in due_moments(period, settings) if m < end_of(as_of)]
    return moments[-1] if moments else None


def is_stale(call: PersonCall | None, due: datetime | None) -> bool:
    """No call submitted at or after the latest due moment (never stale before the first)."""
    if due is None:
        return False
    return call is None or call.submitted_at < due
