"""Fiscal periods: quarters and months of a fiscal year that may start in any month.

A fiscal year is named by the calendar year in which it ends. With start month 2,
FY2027 runs 2026-02-01 … 2027-01-31, its Q4 is Nov–Jan and its M10 is November.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

QUARTER = "Q"
MONTH = "M"
_LABEL = re.compile(r"^FY(\d{4})-([QM])(\d{1,2})$")


@dataclass(frozen=True, order=True)
class Period:
    """One fiscal quarter or month; `start` and `end` are inclusive calendar dates."""

    start: date
    end: date
    kind: str  # QUARTER or MONTH
    fiscal_year: int
    number: int  # 1-4 for quarters, 1-12 for months
    fy_start_month: int

    @property
    def label(self) -> str:
        return f"FY{self.fiscal_year}-{self.kind}{self.number}"

    def __str__(self) -> str:
        return self.label

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shift(self, n: int) -> Period:
        """The period n steps later (negative: earlier) of the same kind."""
        months = 3 if self.kind == QUARTER else 1
        return period_containing(_add_months(self.start, n * months), self.kind, self.fy_start_month)

    def previous(self, n: int) -> list[Period]:
        """The n periods before this one, oldest first."""
        return [self.shift(-k) for k in range(n, 0, -1)]

    def months(self) -> list[Period]:
        """The fiscal months of this period (itself for a month)."""
        if self.kind == MONTH:
            return [self]
        first = period_containing(self.start, MONTH, self.fy_start_month)
        return [first, first.shift(1), first.shift(2)]

    def same_offset(self, as_of: date, current: Period) -> date:
        """`as_of` moved to the same number of days into this period as it is into `current`.

        Capped at this period's end (a 92-day quarter compared with a 90-day one).
        """
        offset = (as_of - current.start).days
        return min(self.start + timedelta(days=max(offset, 0)), self.end)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _check_start_month(fy_start_month: int) -> None:
    if not 1 <= fy_start_month <= 12:
        raise ValueError(f"fiscal year start month must be 1-12, got {fy_start_month}")


def fiscal_year_of(day: date, fy_start_month: int = 1) -> int:
    """The fiscal year (named by the calendar year it ends in) that contains `day`."""
    _check_start_month(fy_start_month)
    if fy_start_month == 1 or day.month < fy_start_month:
        return day.year
    return day.year + 1


def fiscal_year_start(fiscal_year: int, fy_start_month: int = 1) -> date:
    _check_start_month(fy_start_month)
    return date(fiscal_year if fy_start_month == 1 else fiscal_year - 1, fy_start_month, 1)


def period_containing(day: date, kind: str = QUARTER, fy_start_month: int = 1) -> Period:
    """The fiscal quarter or month that contains `day`."""
    fy = fiscal_year_of(day, fy_start_month)
    month_number = (day.month - fy_start_month) % 12 + 1
    if kind == QUARTER:
        number = (month_number - 1) // 3 + 1
        first_month, span = (number - 1) * 3, 3
    elif kind == MONTH:
        number = month_number
        first_month, span = number - 1, 1
    else:
        raise ValueError(f"period kind must be {QUARTER!r} or {MONTH!r}, got {kind!r}")
    start = _add_months(fiscal_year_start(fy, fy_start_month), first_month)
    end = _add_months(start, span) - timedelta(days=1)
    return Period(start, end, kind, fy, number, fy_start_month)


def parse_period(label: str, fy_start_month: int = 1) -> Period:
    """`FY2027-Q4` or `FY2027-M10` → Period; ValueError with the expected shape otherwise."""
    match = _LABEL.match(label.strip().upper())
    if not match:
        raise ValueError(f"period {label!r} is not a label like FY2027-Q4 or FY2027-M10")
    fy, kind, number = int(match[1]), match[2], int(match[3])
    limit = 4 if kind == QUARTER else 12
    if not 1 <= number <= limit:
        raise ValueError(f"period {label!r}: {kind} must be 1-{limit}")
    months_in = (number - 1) * (3 if kind == QUARTER else 1)
    return period_containing(
        _add_months(fiscal_year_start(fy, fy_start_month), months_in), kind, fy_start_month
    )


def fiscal_year_range(fiscal_year: int, fy_start_month: int = 1) -> tuple[date, date]:
    """First and last day of a fiscal year."""
    start = fiscal_year_start(fiscal_year, fy_start_month)
    return start, _add_months(start, 12) - timedelta(days=1)


def completed_quarters_before(period: Period, n: int = 4) -> list[Period]:
    """The n fiscal quarters that end before `period` starts, oldest first."""
    # For a month view the quarter holding it is still running, so it is left out too.
    return period_containing(period.start, QUARTER, period.fy_start_month).previous(n)


def period_choices(around: date, fy_start_month: int, kind: str = QUARTER,
                   back: int = 6, ahead: int = 2) -> list[Period]:
    """Periods to offer in a picker: `back` before the one containing `around`, `ahead` after."""
    current = period_containing(around, kind, fy_start_month)
    return [current.shift(k) for k in range(-back, ahead + 1)]


def fiscal_quarter_sql(column: str, fy_start_month: int) -> str:
    """SQL for a number that grows by one per fiscal quarter, of the date in `column` (an
    expression of ours): the one definition of the fiscal-quarter index, for counting pushes to
    a later quarter and matching rows to quarters without a range join."""
    _check_start_month(fy_start_month)
    return f"((year({column}) * 12 + month({column}) - 1 - {int(fy_start_month) - 1}) // 3)"
