"""What a screen or a report looks at: a period, an as-of date and the filters; and the two
shapes every metric comes in (a Measure by amount and count, a guarded ratio)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd

from sales.periods import Period
from sales.sql import Sql, sql

# The dimensions a view can be filtered by, each a column of the deals relation
# (`sales.query.deals_sql`) under the same name. Owner is the deal's state (deals change
# hands); the others are descriptive fields of the deal (docs/data-model.md#deleted-deals).
FILTER_DIMENSIONS = ("segment", "region", "team", "owner", "type", "channel")
# The value a filter takes when a view asks for something outside its scope: no deal has it,
# so the view shows nothing rather than falling back to "all".
NOTHING = "\u2205 outside your access"


@dataclass(frozen=True)
class Filters:
    """The sidebar's view filters: each a tuple of selected values, empty = all."""

    segment: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()

    @classmethod
    def of(cls, **values: object) -> Filters:
        """Build from lists, tuples, single strings or None (None and empty mean all)."""
        clean = {}
        for name, value in values.items():
            if name not in FILTER_DIMENSIONS:
                raise ValueError(f"unknown filter {name!r}; known: {', '.join(FILTER_DIMENSIONS)}")
            if value is None:
                continue
            items = (value,) if isinstance(value, str) else tuple(value)
            clean[name] = tuple(sorted({str(v) for v in items if str(v).strip()}))
        return cls(**clean)

    def active(self) -> dict[str, tuple[str, ...]]:
        """Only the dimensions with a selection."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def scope_key(self) -> str:
        """A stable text for the selection ('' for no filter), e.g. 'segment=SMB;team=A|B'."""
        return ";".join(f"{k}={'|'.join(v)}" for k, v in self.active().items())

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a frame with a column per filter dimension (a held, filter-free
        intermediate) that this selection keeps."""
        return frame[self.mask(frame)] if self.active() else frame

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of such a frame this selection keeps, as booleans: a caller that needs
        only a number column or two takes them alone, instead of every text column too."""
        kept = np.ones(len(frame), dtype=bool)
        for name, values in self.active().items():
            kept &= frame[name].isin(values).to_numpy(bool)
        return kept

    def within(self, scope: Filters) -> Filters:
        """This selection inside a scope (`sales.access`): per dimension the scope limits, the
        selected values it allows, or all of its values when none is selected. A selection
        wholly outside the scope selects NOTHING, never everything."""
        narrowed = {}
        for name, allowed in scope.active().items():
            chosen = getattr(self, name)
            kept = tuple(v for v in chosen if v in allowed) if chosen else allowed
            narrowed[name] = kept or (NOTHING,)
        return replace(self, **narrowed)

    def condition(self, **columns: str) -> Sql:
        """The selection as a SQL condition over a relation whose columns carry the dimensions'
        names (`true` with no filter). `columns` renames a dimension where that relation calls
        it otherwise, e.g. `owner="then_owner"`; names come from this code, never from users.
        Each dimension binds one list parameter, `$f_<dimension>`."""
        clauses, values = [], {}
        for name, chosen in self.active().items():
            column = columns.get(name, name)
            clauses.append(f"list_contains($f_{name}, {column})")
            values[f"f_{name}"] = list(chosen)
        return sql(" and ".join(clauses) or "true", **values)


@dataclass(frozen=True)
class View:
    """A period seen as of a date through filters, inside a scope; hashable, so it can key a
    cache.

    The scope is the signed-in user's (`sales.access`): `filters` always lie within it, here
    where the view is made, so no query, page or export reads a deal outside it, and replacing
    the filters of a scoped view (`dataclasses.replace`) narrows them again."""

    period: Period
    as_of: date
    filters: Filters = field(default_factory=Filters)
    scope: Filters = field(default_factory=Filters)

    def __post_init__(self) -> None:
        if self.scope.active():
            object.__setattr__(self, "filters", self.filters.within(self.scope))

    def bounds(self) -> dict[str, date]:
        """The period's first and last day as the parameters `$period_start`, `$period_end`."""
        return {"period_start": self.period.start, "period_end": self.period.end}


class Measure(NamedTuple):
    """Every metric comes by amount and by count."""

    amount: float
    count: int

    def __add__(self, other: object) -> Measure:  # type: ignore[override]
        if not isinstance(other, Measure):
            return NotImplemented
        return Measure(self.amount + other.amount, self.count + other.count)

    def as_report(self) -> dict[str, float | int]:
        return {"amount": self.amount, "count": self.count}


ZERO = Measure(0.0, 0)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """A guarded division: None where the ratio is undefined (no denominator)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
