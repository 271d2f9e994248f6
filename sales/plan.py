"""Plan attainment: targets against closed won and forecastable pipeline, per scope."""

from __future__ import annotations

import duckdb
import pandas as pd

from sales.rollup import rollup_by
from sales.stages import CATEGORY_COLUMNS, CLOSED, FORECASTABLE_CATEGORIES, TOTAL_CATEGORIES
from sales.targets import TARGET_SCOPES, view_targets
from sales.view import View


def category_amounts(con: duckdb.DuckDBPyConnection, view: View, dimension: str) -> pd.DataFrame:
    """Closed won and the open categories per value of a dimension for the view's period.

    Grain: one row per value with deals in the period (index: the value). Columns:
    CATEGORY_COLUMNS' names (closed_won, commit, best_case, pipeline), amounts."""
    rolled = rollup_by(con, view, dimension)
    return (rolled.pivot_table(index=dimension, columns="category", values="amount",
                               aggfunc="sum", fill_value=0.0)
            .reindex(columns=list(TOTAL_CATEGORIES), fill_value=0.0)
            .rename(columns=CATEGORY_COLUMNS).rename_axis(columns=None))


def attainment(con: duckdb.DuckDBPyConnection, view: View, scope: str) -> pd.DataFrame:
    """Per value of a target scope (segment, region, team or owner) for the view's period.

    Grain: one row per scope value that has a target or deals. Columns: target (NaN where the
    scope's targets do not fit the view: `sales.targets.targets_fit`, or the value has none),
    closed_won, commit, best_case, pipeline, attainment (closed won / target) and coverage
    ((closed won + commit + best case) / target); rates NaN without a target.
    """
    if scope not in TARGET_SCOPES or scope == "company":
        raise ValueError(f"attainment is by segment, region, team or owner, not {scope!r}")
    amounts = category_amounts(con, view, scope)
    targets = view_targets(con, view.filters, view.period, scope)
    values = sorted(set(amounts.index) | set(targets))
    frame = amounts.reindex(values, fill_value=0.0).reset_index(names=scope)
    frame.insert(1, "target", frame[scope].map(targets).astype("float64"))
    target = frame["target"].where(frame["target"] > 0)
    closed = CATEGORY_COLUMNS[CLOSED]
    frame["attainment"] = frame[closed] / target
    counted = [closed, *(CATEGORY_COLUMNS[c] for c in FORECASTABLE_CATEGORIES)]
    frame["coverage"] = frame[counted].sum(axis=1) / target
    return frame

