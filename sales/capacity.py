"""Rep capacity (SPEC item 13): how many new qualified opportunities a rep must take on each
month to keep a full book, from how long deals take to win or to lose.

    months to close = days to close / 30;   months to lose = months to close / 2
    months on average = win rate × months to close + (1 − win rate) × months to lose
    qualified opportunities needed per month = active-opportunity capacity / months on average

Days to close is the sales cycle of won deals (created → closed, SPEC item 11), read from the
data; the capacity (how many open opportunities one rep can work at once) is the manager's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales.funnel import velocity
from sales.query import Filters, deals_sql, state_key

DAYS_PER_MONTH = 30
# A lost deal is let go in about half the time a won one takes.
LOSE_SHARE_OF_CLOSE = 0.5


@dataclass(frozen=True)
class Capacity:
    """The arithmetic of item 13 for one set of inputs."""

    days_to_close: float
    win_rate: float
    capacity: float

    @property
    def months_to_close(self) -> float:
        return self.days_to_close / DAYS_PER_MONTH

    @property
    def months_to_lose(self) -> float:
        return self.months_to_close * LOSE_SHARE_OF_CLOSE

    @property
    def months_on_average(self) -> float:
        return (self.win_rate * self.months_to_close
                + (1 - self.win_rate) * self.months_to_lose)

    @property
    def needed_per_month(self) -> float | None:
        average = self.months_on_average
        return self.capacity / average if average > 0 else None


@dataclass(frozen=True)
class Pace:
    """What the data says for the window: the won deals' median cycle, and how many qualified
    opportunities each rep actually took on per month. Grain: the window, through the filters."""

    median_cycle_days: float | None
    won_deals: int
    accepted_per_rep_month: float | None
    reps: int


def pace(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date, as_of: date,
         filters: Filters = Filters()) -> Pace:
    """Won deals closed in the window: their median days from created to close (the sales
    cycle of `sales.funnel.velocity`). Qualified opportunities (sales-accepted) in the window:
    per owner with any, per month of the window."""
    speed = velocity(con, window_start, window_end, as_of, filters)
    deals, params = deals_sql(state_key(con, as_of), filters)
    months = max((window_end - window_start).days + 1, 1) / DAYS_PER_MONTH
    accepted, reps = con.cursor().execute(
        f"""select count(*) filter (where sales_accepted_date between ? and ?),
                   count(distinct owner) filter (where sales_accepted_date between ? and ?)
            from ({deals}) d""",  # noqa: S608 - fixed SQL; values are bound
        [window_start, window_end] * 2 + params).fetchall()[0]
    per_rep = accepted / reps / months if reps else None
    return Pace(speed.median_cycle_days, speed.won, per_rep, int(reps))
