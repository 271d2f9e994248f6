"""The roll-up pivot as the Pipeline page shows it: amount and count side by side, and the deals
behind any cell — one category, the forecast total, or everything; one value of the row
dimension or all of them (the Total row)."""

from __future__ import annotations

import duckdb
import pandas as pd

from sales.deals import DEAL_COLUMNS, MAX_DEAL_ROWS
from sales.query import GROUP_DIMENSIONS
from sales.rollup import FORECAST_TOTAL, TOTAL_ROW, deals_in_period, pivot
from sales.sql import sql
from sales.stages import REPORT_CATEGORIES, TOTAL_CATEGORIES
from sales.view import View

COUNT_SUFFIX = " deals"
_COLUMNS = ", ".join("amount::double as amount" if c == "amount" else c for c in DEAL_COLUMNS)


def pivot_both(frame: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """A `rollup_by` frame as dimension × category with each category's amount followed by its
    deal count ("Commit", "Commit deals"), totals as in `pivot`.

    Grain: one row per dimension value plus the Total row."""
    amounts, counts = pivot(frame, dimension, "amount"), pivot(frame, dimension, "count")
    columns = [c for c in amounts.columns if c != dimension]
    out = amounts[[dimension]].copy()
    # Both pivots sort rows by their own total: line them up by the dimension value.
    counts = counts.set_index(dimension).reindex(amounts[dimension]).reset_index()
    for column in columns:
        out[column] = amounts[column].to_numpy()
        out[column + COUNT_SUFFIX] = counts[column].to_numpy().astype("int64")
    return out


def cell_categories(column: str) -> tuple[str, ...] | None:
    """The categories a pivot column stands for: one, the four the total adds up, or None for
    a column that is not a category (the dimension itself)."""
    name = column.removesuffix(COUNT_SUFFIX)
    if name == FORECAST_TOTAL:
        return TOTAL_CATEGORIES
    return (name,) if name in REPORT_CATEGORIES else None


def cell_deals(con: duckdb.DuckDBPyConnection, view: View, categories: tuple[str, ...],
               dimension: str, value: str | None, limit: int = MAX_DEAL_ROWS
               ) -> tuple[pd.DataFrame, int, float]:
    """The deals behind a pivot cell, largest first: `categories` (one, or the forecast total's
    four) and one value of `dimension` (None, or the Total row, for all).

    Grain: one row per opportunity. Returns (capped frame, deal count, the cell's amount over
    every deal, not only those shown)."""
    if dimension not in GROUP_DIMENSIONS:
        raise ValueError(f"cannot filter by {dimension!r}")
    unknown = [c for c in categories if c not in REPORT_CATEGORIES]
    if unknown or not categories:
        raise ValueError(f"unknown category {unknown[0] if unknown else '(none)'!r}")
    deals = deals_in_period(con, view)
    where, values = ["list_contains($cell_categories, category)"], {}
    if value is not None and value != TOTAL_ROW:
        where.append(f"coalesce(cast({dimension} as varchar), '(none)') = $cell_value")
        values["cell_value"] = value
    frame = con.cursor().execute(*sql(
        f"""select {_COLUMNS}, count(*) over () as matching,
                   cast(sum(amount) over () as double) as cell_amount
            from ({deals}) d where {' and '.join(where)}
            order by amount desc nulls last, opportunity_id limit $limit""",  # noqa: S608 - allow-listed
        deals, cell_categories=list(categories), limit=limit, **values)).df()
    total = int(frame["matching"].iloc[0]) if len(frame) else 0
    amount = float(frame["cell_amount"].iloc[0] or 0.0) if len(frame) else 0.0
    frame = frame.drop(columns=["matching", "cell_amount"])
    for column in ("close_date", "created_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame, total, amount
