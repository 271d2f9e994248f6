"""Plan attainment: targets against closed won and forecastable pipeline, per scope."""

from __future__ import annotations

import duckdb
import pandas as pd

from sales.rollup import rollup_by
from sales.targets import TARGET_SCOPES, targets_by
from sales.view import View


def attainment(con: duckdb.DuckDBPyConnection, view: View, scope: str) -> pd.DataFrame:
    """Per value of a target scope (segment, region, team or owner) for the view's period.

    Grain: one row per scope value that has a target or deals. Columns: target, closed won,
    commit, best case, pipeline, attainment (closed / target) and coverage
    ((closed + commit + best case) / target); rates NaN without a target.
    """
    if scope not in TARGET_SCOPES or scope == "company":
        raise ValueError(f"attainment is by segment, region, team or owner, not {scope!r}")
    rolled = rollup_by(con, view, scope)
    amounts = (rolled.pivot_table(index=scope, columns="category", values="amount",
                                  aggfunc="sum", fill_value=0.0)
               .reindex(columns=["Closed", "Commit", "Best Case", "Pipeline"], fill_value=0.0))
    values = sorted(set(amounts.index) | set(
        targets_by(con, view.period, scope, list(_scope_values(con, scope)))))
    targets = targets_by(con, view.period, scope, values)
    frame = amounts.reindex(values, fill_value=0.0).reset_index(names=scope)
    frame.insert(1, "target", frame[scope].map(targets).astype("float64"))
    frame["attainment"] = frame["Closed"] / frame["target"].where(frame["target"] > 0)
    frame["coverage"] = ((frame["Closed"] + frame["Commit"] + frame["Best Case"])
                         / frame["target"].where(frame["target"] > 0))
    frame.columns.name = None
    return frame.rename(columns={"Closed": "closed_won", "Commit": "commit",
                                 "Best Case": "best_case", "Pipeline": "pipeline"})


def _scope_values(con: duckdb.DuckDBPyConnection, scope: str) -> list[str]:
    rows = con.cursor().execute(
        "select distinct scope_value from targets where scope = ?", [scope]).fetchall()
    return [r[0] for r in rows]
