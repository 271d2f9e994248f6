"""The demo's clock: days as integers, the weekly snapshot dates, and lookups from a day to its
fiscal quarter and month end, so the simulation can stay vectorised."""

from __future__ import annotations

from datetime import date

import numpy as np

from sales.periods import MONTH, QUARTER, Period, period_containing

# Snapshots reach back to the start of the fiscal quarter this many quarters before the current.
HISTORY_QUARTERS = 6
# Deals are created from this many days before the first snapshot, so the first snapshot already
# holds a warm pipeline (an Enterprise deal can live more than half a year).
LEAD_IN_DAYS = 365
# Close dates are clipped this far past as_of (the lookup tables cover the range).
HORIZON_DAYS = 1500

EPOCH = date(1970, 1, 1).toordinal()
NEVER = np.int64(1) << 40  # the time of an event that does not happen


def day(d: date) -> int:
    """Days since 1970-01-01."""
    return d.toordinal() - EPOCH


def to_date(days: int) -> date:
    return date.fromordinal(int(days) + EPOCH)


class Calendar:
    """Snapshot dates and day → fiscal quarter / month-end lookups, in days since 1970-01-01.

    Quarters are indexes into `quarters`; `current_index` is the quarter holding as_of.
    """

    def __init__(self, as_of: date, fy_start_month: int,
                 history_quarters: int = HISTORY_QUARTERS):
        self.fy = fy_start_month
        self.as_of = day(as_of)
        self.current = period_containing(as_of, QUARTER, fy_start_month)
        oldest = self.current.shift(-history_quarters)
        weeks = -(-(self.as_of - day(oldest.start)) // 7)
        # Weekly, ending on as_of, starting on or just before the oldest quarter's start.
        self.snap_days = self.as_of - 7 * np.arange(weeks, -1, -1, dtype=np.int64)
        self.first = int(self.snap_days[0])
        self.window_start = self.first - LEAD_IN_DAYS
        self.lo = self.window_start - 31
        self.hi = self.as_of + HORIZON_DAYS
        self.quarters = self._periods(QUARTER)
        self.quarter_of, self.quarter_end = self._lookup(self.quarters)
        self.quarter_start = np.array([day(q.start) for q in self.quarters], np.int64)
        _, self.month_end = self._lookup(self._periods(MONTH))
        starts = np.append(self.quarter_start, day(self.quarters[-1].end) + 1)
        # First snapshot index on or after each quarter's start; [k(q), k(q + 1)) lie in q.
        self.quarter_first_snap = np.searchsorted(self.snap_days, starts).astype(np.int64)
        self.snap_quarter = self.quarter_of[self.snap_days - self.lo]
        self.current_index = self.quarters.index(self.current)

    def _periods(self, kind: str) -> list[Period]:
        periods = [period_containing(to_date(self.lo), kind, self.fy)]
        while day(periods[-1].end) < self.hi:
            periods.append(periods[-1].shift(1))
        return periods

    def _lookup(self, periods: list[Period]) -> tuple[np.ndarray, np.ndarray]:
        """Per day in [lo, hi]: the index of its period, and the period's last day."""
        size = self.hi - self.lo + 1
        index, end = np.empty(size, np.int32), np.empty(size, np.int64)
        for i, p in enumerate(periods):
            a, b = max(day(p.start), self.lo) - self.lo, min(day(p.end), self.hi) - self.lo
            index[a:b + 1], end[a:b + 1] = i, day(p.end)
        return index, end

    def clip(self, days: np.ndarray) -> np.ndarray:
        return np.clip(days, self.lo, self.hi)

    def quarter(self, days: np.ndarray) -> np.ndarray:
        """Index of the fiscal quarter holding each day."""
        return self.quarter_of[self.clip(days) - self.lo]

    def end_of_quarter(self, days: np.ndarray) -> np.ndarray:
        return self.quarter_end[self.clip(days) - self.lo]

    def end_of_month(self, days: np.ndarray) -> np.ndarray:
        return self.month_end[self.clip(days) - self.lo]

    def snapshot(self, k: int) -> date:
        return to_date(self.snap_days[k])

    def snapshot_of(self, days: np.ndarray) -> np.ndarray:
        """Index of the first snapshot on or after each day (events are first seen there)."""
        return np.maximum(0, -((self.first - days) // 7))
