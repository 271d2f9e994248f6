"""Close rate and win rate over a window of closed, qualified deals (SPEC items 4 and 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from sales.periods import Period, completed_quarters_before
from sales.query import Filters, deals_sql, snapshot_on_or_before
from sales.view import Measure, ratio


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

    def win_rate(self) -> tuple[float | None, float | None]:
        """won / (won + lost to competition), by amount and by count."""
        return _rate(self.won, self.won + self.lost_competition)


def _rate(part: Measure, whole: Measure) -> tuple[float | None, float | None]:
    return ratio(part.amount, whole.amount), ratio(part.count, whole.count)


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
    deals, params = deals_sql(snapshot_on_or_before(con, as_of), filters)
    rows = con.cursor().execute(
        f"""select case when won then 'won' else coalesce(loss_class, 'no_decision') end,
                   coalesce(sum(amount), 0), count(*)
            from ({deals}) d
            where closed and qualified and close_date between ? and ?
            group by 1""",  # noqa: S608
        params + [window_start, window_end],
    ).fetchall()
    found = {kind: Measure(float(amount), int(count)) for kind, amount, count in rows}
    zero = Measure(0.0, 0)
    return Outcomes(window_start, window_end, found.get("won", zero),
                    found.get("competition", zero), found.get("no_decision", zero),
                    found.get("excluded", zero))
