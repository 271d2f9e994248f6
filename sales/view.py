"""What a screen or a report looks at: a period, an as-of date and the filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sales.periods import Period
from sales.query import Filters


@dataclass(frozen=True)
class View:
    """A period seen as of a date through filters; hashable, so it can key a cache."""

    period: Period
    as_of: date
    filters: Filters = field(default_factory=Filters)


class Measure(NamedTuple):
    """Every metric comes by amount and by count."""

    amount: float
    count: int

    def __add__(self, other: object) -> Measure:  # type: ignore[override]
        if not isinstance(other, Measure):
            return NotImplemented
        return Measure(self.amount + other.amount, self.count + other.count)


ZERO = Measure(0.0, 0)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """A guarded division: None where the ratio is undefined (no denominator)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
