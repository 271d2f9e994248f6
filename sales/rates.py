"""Close rate and win rate over a window of closed, qualified deals (docs/metrics.md#4-close-rate,
docs/metrics.md#5-win-rate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa

from sales.periods import QUARTER, Period, completed_quarters_before, period_containing
from sales.query import GROUP_DIMENSIONS, deals_sql, state_key
from sales.slippage import slipped_by_period, slips_cube
from sales.sql import Sql, rows_sql, sql
from sales.view import ZERO, Filters, Measure, View, ratio


@dataclass(frozen=True)
class Outcomes:
    """Qualified deals closed in a window, split by outcome. Grain: the whole window."""

    window_start: date
    window_end: date
    won: Measure
    lost_competition: Measure
    lost_no_decision: Measure
    lost_excluded: Measure

    def close_rate(self) -> tuple[float | None, float | None]:
        """won / (won + lost to competition + lost to no decision), by amount and by count."""
        return _rate(self.won, self.won + self.lost_competition + self.lost_no_decision)

    def slippage_adjusted_close_rate(self, slipped: Measure) -> tuple[float | None, float | None]:
        """won / (won + lost to competition + lost to no decision + slipped), by amount and by
        count (docs/metrics.md#6-slippage-adjusted-close-rate); `slipped` sums the slips
        out of the window's periods."""
        return _rate(self.won, self.won + self.lost_competition + self.lost_no_decision + slipped)

    def loss_shares(self) -> tuple[float | None, float | None]:
        """Lost to no decision and lost to competition, each a share of the two by count."""
        lost = self.lost_no_decision.count + self.lost_competition.count
        return (ratio(self.lost_no_decision.count, lost), ratio(self.lost_competition.count, lost))

    def win_rate(self) -> tuple[float | None, float | None]:
        """won / (won + lost to competition), by amount and by count."""
        return _rate(self.won, self.won + self.lost_competition)

    def as_report(self) -> dict[str, object]:
        """The report's headline `rates` keys: the window, close and win rates."""
        return {"window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "close_rate": _pair(self.close_rate()), "win_rate": _pair(self.win_rate())}


def _pair(rates: tuple[float | None, float | None]) -> dict[str, float | None]:
    return {"amount": rates[0], "count": rates[1]}


def _rate(part: Measure, whole: Measure) -> tuple[float | None, float | None]:
    return ratio(part.amount, whole.amount), ratio(part.count, whole.count)


def required_coverage(close_rate: float | None) -> float | None:
    """The pipeline multiple a close rate needs: 1 / close rate (33% → 3×, 25% → 4×)."""
    return ratio(1.0, close_rate)


def default_window(period: Period) -> tuple[date, date]:
    """The four completed fiscal quarters before the period."""
    quarters = completed_quarters_before(period, 4)
    return quarters[0].start, quarters[-1].end


def outcomes(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date,
             as_of: date, filters: Filters = Filters()) -> Outcomes:
    """Qualified deals closed with close_date in [window_start, window_end], as of `as_of`.

    Unqualified closes (9-Unqualified, 10-Duplicate) are outside every rate; a loss without a
    class counts as no decision, like an unmapped reason.
    """
    deals = closed_in_window(con, window_start, window_end, as_of, filters)
    rows = con.cursor().execute(*sql(
        f"""select case when won then 'won' else coalesce(loss_class, 'no_decision') end,
                   coalesce(sum(amount), 0), count(*)
            from ({deals}) d group by 1""", deals)).fetchall()  # noqa: S608
    found = {kind: Measure(float(amount), int(count)) for kind, amount, count in rows}
    return Outcomes(window_start, window_end, found.get("won", ZERO),
                    found.get("competition", ZERO), found.get("no_decision", ZERO),
                    found.get("excluded", ZERO))


def closed_in_window(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date,
                      as_of: date, filters: Filters) -> Sql:
    """The qualified deals closed (won or lost) with close_date in the window, as of `as_of`:
    the deals every rate counts. Grain: one row per opportunity."""
    deals = deals_sql(state_key(con, as_of), filters)
    return sql(f"""select * from ({deals}) d where closed and qualified
                   and close_date between $window_start and $window_end""",  # noqa: S608
               deals, window_start=window_start, window_end=window_end)


_OUTCOME_COLUMNS = """
    coalesce(sum(amount) filter (where won), 0)::double as won_amount,
    count(*) filter (where won) as won_count,
    coalesce(sum(amount) filter (where not won and loss_class = 'competition'), 0)::double
        as lost_competition_amount,
    count(*) filter (where not won and loss_class = 'competition') as lost_competition_count,
    coalesce(sum(amount) filter (where not won and coalesce(loss_class, 'no_decision')
                                 = 'no_decision'), 0)::double as lost_no_decision_amount,
    count(*) filter (where not won and coalesce(loss_class, 'no_decision') = 'no_decision')
        as lost_no_decision_count,
    count(*) filter (where not won and loss_class = 'excluded') as lost_excluded_count
"""


def _column_rate(frame: pd.DataFrame, part: str, *whole: str) -> pd.Series:
    """frame[part] / the sum of the `whole` columns, NaN where that is 0."""
    denominator = sum(frame[w] for w in whole)
    return (frame[part] / denominator.where(denominator != 0)).astype("float64")


def _with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add close and win rates (by amount and count) to outcome counts; NaN where undefined."""
    def rate(part: str, *whole: str) -> pd.Series:
        return _column_rate(frame, part, *whole)

    frame["close_rate_count"] = rate("won_count", "won_count", "lost_competition_count",
                                     "lost_no_decision_count")
    frame["close_rate_amount"] = rate("won_amount", "won_amount", "lost_competition_amount",
                                      "lost_no_decision_amount")
    frame["win_rate_count"] = rate("won_count", "won_count", "lost_competition_count")
    frame["win_rate_amount"] = rate("won_amount", "won_amount", "lost_competition_amount")
    return frame


def rates_by_period(con: duckdb.DuckDBPyConnection, periods: list[Period], as_of: date,
                    filters: Filters = Filters()) -> pd.DataFrame:
    """Close and win rate per period (a trend). Grain: one row per period, in order."""
    deals = deals_sql(state_key(con, as_of), filters)
    inline = rows_sql("trend_periods", [{"ord": i, "period": p.label, "p_start": p.start,
                                         "p_end": p.end} for i, p in enumerate(periods)])
    frame = con.cursor().execute(*sql(
        f"""select p.ord, p.period, {_OUTCOME_COLUMNS}
            from {inline} p left join ({deals}) d
              on d.closed and d.qualified and d.close_date between p.p_start and p.p_end
            group by all order by p.ord""",  # noqa: S608
        inline, deals)).df()
    return _with_rates(frame.drop(columns="ord"))


def rates_by(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date, as_of: date,
             dimension: str, filters: Filters = Filters()) -> pd.DataFrame:
    """Close and win rate per value of a dimension over the window.

    Grain: one row per dimension value with at least one qualified closed deal."""
    if dimension not in GROUP_DIMENSIONS:
        raise ValueError(f"cannot group by {dimension!r}; choose one of {', '.join(GROUP_DIMENSIONS)}")
    deals = closed_in_window(con, window_start, window_end, as_of, filters)
    frame = con.cursor().execute(*sql(
        f"""select coalesce(cast({dimension} as varchar), '(none)') as {dimension},
                   {_OUTCOME_COLUMNS}
            from ({deals}) d
            group by 1 order by won_count + lost_competition_count + lost_no_decision_count desc""",  # noqa: S608
        deals)).df()
    return _with_rates(frame)


def with_slips(trend: pd.DataFrame, slips: pd.DataFrame) -> pd.DataFrame:
    """`rates_by_period` with each period's slips (`sales.slippage.slipped_by_period`) and its
    slippage-adjusted close rate (docs/metrics.md#6-slippage-adjusted-close-rate): won / (won +
    lost to competition + lost to no decision + slipped), by count and by amount. Grain: one row
    per period, in order."""
    frame = trend.merge(slips, on="period", how="left")
    frame["slipped_count"] = frame["slipped_count"].fillna(0).astype(int)
    frame["slipped_amount"] = frame["slipped_amount"].fillna(0.0).astype(float)
    frame["adjusted_rate_count"] = _column_rate(
        frame, "won_count", "won_count", "lost_competition_count", "lost_no_decision_count",
        "slipped_count")
    frame["adjusted_rate_amount"] = _column_rate(
        frame, "won_amount", "won_amount", "lost_competition_amount", "lost_no_decision_amount",
        "slipped_amount")
    return frame


def slips_in(slips: pd.DataFrame, periods: list[Period]) -> Measure:
    """The slips out of `periods` summed (slips are events: a deal slipping from two periods
    counts twice), from a `slipped_by_period` frame."""
    chosen = slips[slips["period"].isin([p.label for p in periods])]
    return Measure(float(chosen["slipped_amount"].sum()), int(chosen["slipped_count"].sum()))


# Quarters the Rates page's trend shows: the one holding as-of and the seven before it.
TREND_QUARTERS = 8


def trend_quarters(as_of: date, fy_start_month: int, count: int = TREND_QUARTERS) -> list[Period]:
    """The quarter holding as-of and the `count` − 1 before it, oldest first (the last is still
    running: its rates cover the deals closed so far)."""
    current = period_containing(as_of, QUARTER, fy_start_month)
    return [*current.previous(count - 1), current]


def window_quarters(window_start: date, window_end: date, fy_start_month: int) -> list[Period]:
    """The fiscal quarters whose last day falls in the window: the periods a window's slips come
    from (a slip is decided at its quarter's end). For the default window, its four quarters."""
    quarters = []
    quarter = period_containing(window_start, QUARTER, fy_start_month)
    while quarter.start <= window_end:
        if window_start <= quarter.end <= window_end:
            quarters.append(quarter)
        quarter = quarter.shift(1)
    return quarters


@dataclass(frozen=True)
class WindowRates:
    """The rates of docs/metrics.md#4-close-rate to 6 over a window: the outcomes of the
    qualified deals closed in it and the slips out of its quarters (`window_quarters`). Grain:
    the window, through the filters."""

    outcomes: Outcomes
    slipped: Measure

    @property
    def window_start(self) -> date:
        return self.outcomes.window_start

    @property
    def window_end(self) -> date:
        return self.outcomes.window_end

    def close_rate(self) -> tuple[float | None, float | None]:
        return self.outcomes.close_rate()

    def win_rate(self) -> tuple[float | None, float | None]:
        return self.outcomes.win_rate()

    def adjusted_close_rate(self) -> tuple[float | None, float | None]:
        return self.outcomes.slippage_adjusted_close_rate(self.slipped)

    def as_report(self) -> dict[str, object]:
        """The report's `rates` keys: the headline ones (`Outcomes.as_report`) and the rest (by
        amount and by count; required coverage by count)."""
        done = self.outcomes
        no_decision, competition = done.loss_shares()
        return {
            **done.as_report(),
            "slippage_adjusted_close_rate": _pair(self.adjusted_close_rate()),
            "required_coverage": required_coverage(self.close_rate()[1]),
            "slippage_adjusted_required_coverage": required_coverage(self.adjusted_close_rate()[1]),
            "won": done.won.as_report(),
            "lost": {"competition": done.lost_competition.as_report(),
                     "no_decision": done.lost_no_decision.as_report(),
                     "excluded": done.lost_excluded.as_report()},
            "loss_share": {"no_decision": no_decision, "competition": competition},
            "slipped": self.slipped.as_report(),
        }


def window_rates(con: duckdb.DuckDBPyConnection, window_start: date, window_end: date,
                 as_of: date, filters: Filters, fy_start_month: int,
                 slips: pd.DataFrame | None = None) -> WindowRates:
    """Close, win and slippage-adjusted close rates over the window. `slips` is
    `sales.slippage.slipped_by_period` for (at least) the window's quarters through the same
    filters, when the caller has it; else the history is read for them."""
    quarters = window_quarters(window_start, window_end, fy_start_month)
    if slips is None:
        slips = slipped_by_period(con, quarters, as_of, filters)
    return WindowRates(outcomes(con, window_start, window_end, as_of, filters),
                       slips_in(slips, quarters))


# Competitors the loss mix names.
TOP_COMPETITORS = 5


@dataclass(frozen=True)
class Slips:
    """The slips out of the rates trend's quarters and the rates window's, read once (a scan
    of the history per quarter) for the window's rates, the trend and the diagnosis."""

    trend: list[Period]
    window: list[Period]
    cube: pa.Table | None

    def window_frame(self, con: duckdb.DuckDBPyConnection, view: View) -> pd.DataFrame:
        """`slipped_by_period` for the window's quarters through the view's filters."""
        return slipped_by_period(con, self.window, view.as_of, view.filters, self.cube)


def read_slips(con: duckdb.DuckDBPyConnection, view: View, window: tuple[date, date]) -> Slips:
    """The trend's quarters, the window's quarters and the slips cube over both."""
    fy_start = view.period.fy_start_month
    trend = trend_quarters(view.as_of, fy_start)
    in_window = window_quarters(*window, fy_start)
    quarters = sorted({*trend, *in_window}, key=lambda q: q.start)
    return Slips(trend, in_window, slips_cube(con, quarters, view.as_of))


def rates_trend(con: duckdb.DuckDBPyConnection, view: View, slips: Slips) -> pd.DataFrame:
    """Close, win and slippage-adjusted close rate per quarter of the trend (the Rates page's
    trend). Grain: one row per quarter, `rates_by_period`'s columns with `with_slips`'."""
    return with_slips(rates_by_period(con, slips.trend, view.as_of, view.filters),
                      slipped_by_period(con, slips.trend, view.as_of, view.filters, slips.cube))


def top_competitors(con: duckdb.DuckDBPyConnection, view: View, window: tuple[date, date],
                    n: int = TOP_COMPETITORS) -> pd.DataFrame:
    """The competitors the most deals were lost to in the rates window, with our win rate
    against each (won / (won + lost to competition), by count). Grain: one row per competitor,
    most losses first, `rates_by`'s columns."""
    frame = rates_by(con, *window, view.as_of, "competitor", view.filters)
    frame = frame[(frame["competitor"] != "(none)") & (frame["lost_competition_count"] > 0)]
    return frame.sort_values(["lost_competition_count", "lost_competition_amount",
                              "competitor"], ascending=[False, False, True]).head(n)
