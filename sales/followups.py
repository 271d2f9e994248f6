"""Follow-ups: the weekly call's action items, carried from call to call until closed.

An item is raised at a call — the view's as-of date (the call date, as for saved in-blood
calls), its period and its filter scope — with a text, an owner, a due date and optionally a
deal. Every later call of the same scope opens with the items still open (overdue ones, due
before the call, flagged), and each is closed with one click and a note. Who raised and who
closed an item, and when, are kept with it and on the audit trail. Items live in the database
file: imports (built on a copy of the file), syncs and restarts keep them.

"Open as of a date" reads the call dates, not the wall clock: an item raised at a call on or
before the date and not closed at a call on or before it. So a past view shows what was open
then, and closing an item at a call removes it from that call's list at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from sales import audit
from sales.query import KNOWN_DEALS
from sales.view import View

MAX_TEXT = 500
MAX_OWNER = 120
MAX_NOTE = 1_000
# Closed items a call lists (the most recently closed first); open items are all listed.
MAX_CLOSED_LISTED = 200
COLUMNS = ["follow_up_id", "text", "owner", "due_date", "opportunity_id", "account_name",
           "deal_name", "call_date", "created_by", "created_at", "overdue", "closed_call_date",
           "closed_by", "closed_at", "close_note"]


class FollowUpError(ValueError):
    """A follow-up that cannot be saved or closed as asked; the message says why."""


@dataclass(frozen=True)
class FollowUpCounts:
    """Follow-ups of a view's scope as of its date: still open, open and past due, closed at
    a call after the last call's date. Grain: the view's filter scope."""

    open: int
    overdue: int
    closed_since: int
    since_after: date | None

    def as_report(self) -> dict[str, object]:
        return {"open": {"count": self.open}, "overdue": {"count": self.overdue},
                "closed_since": {"after": self.since_after.isoformat() if self.since_after
                                 else None, "count": self.closed_since}}


def _clean(value: str | None, what: str, limit: int, required: bool = True) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise FollowUpError(f"say {what}")
    if len(text) > limit:
        raise FollowUpError(f"{what} is {len(text)} characters; keep it to {limit}")
    return text


def add_follow_up(con: duckdb.DuckDBPyConnection, view: View, text: str, owner: str,
                  due: date, opportunity_id: str | None, by: str,
                  at: datetime | None = None) -> int:
    """Raise an item at the view's call (inside the caller's write transaction); returns its
    id. The deal, when given, must be one the view can see."""
    text = _clean(text, "what is to be done", MAX_TEXT)
    owner = _clean(owner, "who owns it", MAX_OWNER)
    by = _clean(by, "who is adding it (a name, or sign in)", MAX_OWNER)
    if not isinstance(due, date):
        raise FollowUpError("give a due date")
    deal = _clean(opportunity_id, "the deal", MAX_OWNER, required=False) or None
    if deal is not None and not _deal_in_view(con, view, deal):
        raise FollowUpError(f"no deal {deal} in this view: pick one of its deals or leave "
                            "the deal empty")
    at = at or datetime.now().replace(microsecond=0)
    follow_up_id = con.execute(
        """insert into follow_ups (text, owner, due_date, opportunity_id, period, scope,
                                   call_date, created_by, created_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning follow_up_id""",
        [text, owner, due, deal, view.period.label, view.filters.scope_key(), view.as_of, by,
         at]).fetchall()[0][0]
    audit.record(con, by, audit.FOLLOW_UP,
                 f"follow-up {follow_up_id} raised at the call of {view.as_of} "
                 f"({view.filters.scope_key() or 'whole company'}) for {owner}, due {due}"
                 + (f", deal {deal}" if deal else "") + f": {text}", at)
    return int(follow_up_id)


def _deal_in_view(con: duckdb.DuckDBPyConnection, view: View, deal: str) -> bool:
    condition = view.filters.condition()
    query = f"select count(*) from {KNOWN_DEALS} where opportunity_id = $deal and {condition}"  # noqa: S608
    return con.execute(query, {"deal": deal, **condition.params}).fetchall()[0][0] > 0


def close_follow_up(con: duckdb.DuckDBPyConnection, view: View, follow_up_id: int, note: str,
                    by: str, at: datetime | None = None) -> None:
    """Close an open item of the view's scope at the view's call, with a note (inside the
    caller's write transaction)."""
    note = _clean(note, "the note", MAX_NOTE, required=False)
    by = _clean(by, "who is closing it (a name, or sign in)", MAX_OWNER)
    row = con.execute("select text, closed_by, scope from follow_ups where follow_up_id = ?",
                      [follow_up_id]).fetchall()
    if not row or row[0][2] != view.filters.scope_key():
        raise FollowUpError(f"no follow-up {follow_up_id} in this view")
    if row[0][1] is not None:
        raise FollowUpError(f"follow-up {follow_up_id} was already closed by {row[0][1]}")
    at = at or datetime.now().replace(microsecond=0)
    con.execute("""update follow_ups set closed_call_date = ?, closed_by = ?, closed_at = ?,
                          close_note = ?
                   where follow_up_id = ?""", [view.as_of, by, at, note or None, follow_up_id])
    audit.record(con, by, audit.FOLLOW_UP,
                 f"follow-up {follow_up_id} closed at the call of {view.as_of}"
                 + (f": {note}" if note else "") + f" ({row[0][0]})", at)


_LISTED = """
    select f.follow_up_id, f.text, f.owner, f.due_date, f.opportunity_id,
           null::varchar as account_name, null::varchar as deal_name, f.call_date, f.created_by,
           f.created_at, f.due_date < $as_of as overdue, f.closed_call_date, f.closed_by,
           f.closed_at, f.close_note
    from follow_ups f
    where f.scope = $scope and f.call_date <= $as_of"""


def open_follow_ups(con: duckdb.DuckDBPyConnection, view: View) -> pd.DataFrame:
    """Every item of the view's scope open as of its date, overdue first, then by due date.
    Grain: one row per follow-up (COLUMNS)."""
    frame = con.cursor().execute(
        f"""{_LISTED} and (f.closed_call_date is null or f.closed_call_date > $as_of)
            order by overdue desc, f.due_date, f.follow_up_id""",  # noqa: S608
        {"scope": view.filters.scope_key(), "as_of": view.as_of}).df()
    return _dated(_named(con, frame))


def closed_follow_ups(con: duckdb.DuckDBPyConnection, view: View, after: date | None
                      ) -> pd.DataFrame:
    """Items of the view's scope closed at a call after `after` (the last call) up to as-of,
    latest first. Grain: one row per follow-up, MAX_CLOSED_LISTED at most."""
    frame = con.cursor().execute(
        f"""{_LISTED} and f.closed_call_date <= $as_of
              and ($after is null or f.closed_call_date > $after)
            order by f.closed_call_date desc, f.closed_at desc, f.follow_up_id desc
            limit $limit""",  # noqa: S608
        {"scope": view.filters.scope_key(), "as_of": view.as_of, "after": after,
         "limit": MAX_CLOSED_LISTED}).df()
    return _dated(_named(con, frame))


def follow_up_counts(con: duckdb.DuckDBPyConnection, view: View, after: date | None
                     ) -> FollowUpCounts:
    """The report's `follow_ups` keys for the view; `after` is the last call's date."""
    row = con.cursor().execute(
        """select count(*) filter (where closed_call_date is null or closed_call_date > $as_of),
                  count(*) filter (where (closed_call_date is null or closed_call_date > $as_of)
                                     and due_date < $as_of),
                  count(*) filter (where closed_call_date <= $as_of
                                     and ($after is null or closed_call_date > $after))
           from follow_ups where scope = $scope and call_date <= $as_of""",
        {"scope": view.filters.scope_key(), "as_of": view.as_of, "after": after}
    ).fetchall()[0]
    return FollowUpCounts(int(row[0]), int(row[1]), int(row[2]), after)


def follow_ups_export(con: duckdb.DuckDBPyConnection, view: View, after: date | None
                      ) -> pd.DataFrame:
    """The call's follow-ups for CSV and XLSX: every open item, then those closed since the
    last call, with a `state` column. Grain: one row per follow-up."""
    still = open_follow_ups(con, view).assign(state="open")
    done = closed_follow_ups(con, view, after).assign(state="closed since the last call")
    frames = [f for f in (still, done) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["state", *COLUMNS])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["state", *COLUMNS]]


def _named(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """The listed follow-ups with their deals' account and name. Looked up by the handful of
    ids in a second query: joined in the first, every one of a million deals was read."""
    ids = sorted({i for i in frame["opportunity_id"] if isinstance(i, str)})
    if not ids:
        return frame
    names = con.cursor().execute(
        f"""select opportunity_id, account_name, name from {KNOWN_DEALS}
            where list_contains($ids, opportunity_id)""", {"ids": ids}).fetchall()  # noqa: S608
    accounts = {i: account for i, account, _ in names}
    deals = {i: name for i, _, name in names}
    return frame.assign(account_name=frame["opportunity_id"].map(accounts),
                        deal_name=frame["opportunity_id"].map(deals))


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("due_date", "call_date", "closed_call_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame["overdue"] = frame["overdue"].fillna(False).astype(bool)
    for column in ("opportunity_id", "account_name", "deal_name", "closed_by", "close_note"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame[COLUMNS]


def follow_ups_of_call(con: duckdb.DuckDBPyConnection, call_id: int) -> pd.DataFrame:
    """The follow-ups raised at a saved in-blood call's call (its date and filter scope), for
    the call's export. Grain: one row per follow-up."""
    return con.cursor().execute(
        """select f.follow_up_id, f.text, f.owner, f.due_date, f.opportunity_id, f.created_by,
                  f.created_at, f.closed_call_date, f.closed_by, f.close_note
           from follow_ups f join forecast_calls c
             on c.call_id = ? and f.scope = c.scope and f.call_date = c.call_date
           order by f.follow_up_id""", [call_id]).df()
