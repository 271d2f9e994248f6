"""docs/metrics.md#13-rep-capacity: how many new qualified opportunities a rep must take on each
month to keep a full book, from how long deals take to win or to lose.

    months to close = days to close / 30;   months to lose = months to close / 2
    months on average = win rate × months to close + (1 − win rate) × months to lose
    qualified opportunities needed per month = active-opportunity capacity / months on average

Days to close is the won deals' cycle (created → closed, docs/metrics.md#11-funnel-and-velocity), from the
data; the capacity (how many open opportunities one rep can work at once) is the manager's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales.funnel import velocity
from sales.query import deals_sql, state_key
from sales.rates import outcomes
from sales.settings import Settings
from sales.sql import sql
from sales.view import Filters

DAYS_PER_MONTH = 30
# A lost deal is let go in about half the time a won one takes.
LOSE_SHARE_OF_CLOSE = 0.5
# Inputs a plan starts from when the window has no won deal to read a cycle or a win rate from:
# a quarter's cycle, and even odds. Said on screen as guesses.
GUESSED_DAYS_TO_CLOSE = 90.0
GUESSED_WIN_RATE = 0.5
DATA, GUESS = "data", "guess"


@dataclass(frozen=True)
class Capacity:
    """The arithmetic of docs/metrics.md#13-rep-capacity for one set of inputs."""

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
    deals = deals_sql(state_key(con, as_of), filters)
    months = max((window_end - window_start).days + 1, 1) / DAYS_PER_MONTH
    accepted, reps = con.cursor().execute(*sql(
        f"""select count(*) filter (where sales_accepted_date between $window_start and $window_end),
                   count(distinct owner) filter (where sales_accepted_date
                                                 between $window_start and $window_end)
            from ({deals}) d""",  # noqa: S608 - fixed SQL; values are bound
        deals, window_start=window_start, window_end=window_end)).fetchall()[0]
    per_rep = accepted / reps / months if reps else None
    return Pace(speed.median_cycle_days, speed.won, per_rep, int(reps))


@dataclass(frozen=True)
class CapacityPlan:
    """Rep capacity with the data's inputs, as the Rates page starts it: the won deals' median
    cycle and the trailing win rate by count (each a guess where the window has none), and the
    capacity from settings (`rep_capacity`); with what reps take on now."""

    plan: Capacity
    days_source: str  # DATA or GUESS
    win_rate_source: str
    pace: Pace

    def as_report(self) -> dict[str, object]:
        plan, pace = self.plan, self.pace
        return {"days_to_close": plan.days_to_close, "days_to_close_source": self.days_source,
                "win_rate": plan.win_rate, "win_rate_source": self.win_rate_source,
                "capacity": plan.capacity, "months_to_close": plan.months_to_close,
                "months_to_lose": plan.months_to_lose,
                "months_on_average": plan.months_on_average,
                "needed_per_month": plan.needed_per_month,
                "accepted_per_rep_month": pace.accepted_per_rep_month, "reps": pace.reps,
                "won_deals": pace.won_deals}


def capacity_plan(pace_found: Pace, win_rate: float | None, rep_capacity: int) -> CapacityPlan:
    """The plan from what the data says (`pace`, the trailing win rate by count) and the
    capacity setting; guesses where the data has nothing."""
    days = pace_found.median_cycle_days
    # A float like the plan's other inputs: the Rates page edits it in a float number input and
    # the report writes it as 40.0.
    plan = Capacity(days if days else GUESSED_DAYS_TO_CLOSE,
                    win_rate if win_rate else GUESSED_WIN_RATE, float(rep_capacity))
    return CapacityPlan(plan, DATA if days else GUESS, DATA if win_rate else GUESS, pace_found)


def capacity_for(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date,
                 as_of: date, filters: Filters, settings: Settings) -> CapacityPlan:
    """The plan the Rates page starts from and the report shows: the window's pace, its
    trailing win rate by count, the capacity setting."""
    win_rate = outcomes(con, window_start, window_end, as_of, filters).win_rate()[1]
    return capacity_plan(pace(con, window_start, window_end, as_of, filters), win_rate,
                         settings.rep_capacity)
