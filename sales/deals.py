"""Lists of deals behind a number: one capped page, never the whole table, reaches pandas."""

from __future__ import annotations

import duckdb
import pandas as pd

from sales.query import GROUP_COLUMNS
from sales.rollup import deals_in_period
from sales.view import View

# A deal list is for reading on screen; past this many rows the user narrows the filter or
# downloads from the deal explorer. Keeps a 1M-deal database from filling the browser.
MAX_DEAL_ROWS = 1_000

DEAL_COLUMNS = ("opportunity_id", "name", "account_name", "owner", "team", "segment", "region",
                "type", "channel", "category", "stage", "amount", "close_date", "created_date",
                "competitor", "lost_reason", "loss_class", "renewal_risk", "next_step")


def period_deals(con: duckdb.DuckDBPyConnection, view: View, category: str | None = None,
                 dimension: str | None = None, value: str | None = None,
                 limit: int = MAX_DEAL_ROWS) -> tuple[pd.DataFrame, int]:
    """Deals closing in the view's period, optionally one category and one dimension value,
    largest first. Grain: one row per opportunity. Returns (capped frame, total count)."""
    deals, params = deals_in_period(con, view)
    conditions, extra = [], []
    if category is not None:
        conditions.append("category = ?")
        extra.append(category)
    if dimension is not None:
        if dimension not in GROUP_COLUMNS:
            raise ValueError(f"cannot filter by {dimension!r}")
        conditions.append(f"coalesce(cast({dimension} as varchar), '(none)') = ?")
        extra.append(value)
    where = f"where {' and '.join(conditions)}" if conditions else ""
    cur = con.cursor()
    total = cur.execute(f"select count(*) from ({deals}) {where}",  # noqa: S608 - allow-listed
                        params + extra).fetchone()[0]
    frame = cur.execute(
        f"""select {', '.join(DEAL_COLUMNS)} from ({deals}) {where}
            order by amount desc nulls last, opportunity_id limit ?""",  # noqa: S608
        params + extra + [limit],
    ).df()
    frame["amount"] = frame["amount"].astype("float64")
    return frame, int(total)
