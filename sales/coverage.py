"""Enterprise coverage and remaining coverage (SPEC item 2)."""

from __future__ import annotations

from typing import NamedTuple

from sales.stages import BEST_CASE, CLOSED, COMMIT
from sales.view import Measure, ratio


class Coverage(NamedTuple):
    """Multiples of the target; None where there is no target (or nothing remains to cover)."""

    enterprise: float | None
    remaining: float | None


def enterprise_coverage(rollup: dict[str, Measure], target: float | None) -> Coverage:
    """(Closed + Commit + Best Case) / target, and (Commit + Best Case) / max(target − Closed, 0).

    Pipeline is left out on purpose: in long cycles it does not close inside the quarter.
    """
    closed = rollup[CLOSED].amount
    forecastable = rollup[COMMIT].amount + rollup[BEST_CASE].amount
    if target is None:
        return Coverage(None, None)
    return Coverage(ratio(closed + forecastable, target),
                    ratio(forecastable, max(target - closed, 0.0)))
