"""The shared query pieces: view filters, "state as of a date", and a deal's report category.

Every metric reads deals through `deals_sql`, so "as of", filters and category rules are
written once. Values are bound parameters; column names come from allow-lists only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date

import duckdb
import pandas as pd

# Filter dimensions → the column they read. Owner is part of the snapshot (deals change hands),
# the rest are descriptive fields of the opportunities table (SPEC "Periods").
FILTER_COLUMNS = {
    "segment": "o.segment",
    "region": "o.region",
    "team": "o.team",
    "owner": "s.owner",
    "type": "o.type",
    "channel": "o.channel",
}
# The filter dimensions the opportunities table holds (owner is the state's: deals change hands).
DESCRIPTIVE_FILTERS = tuple(column.removeprefix("o.") for column in FILTER_COLUMNS.values()
                            if column.startswith("o."))
# Dimensions a roll-up may group by; includes the non-filter dimensions competitor and stage.
GROUP_COLUMNS = {**FILTER_COLUMNS, "competitor": "o.competitor", "stage": "s.stage"}

# One definition of the category a deal is reported in (mirrors sales.stages.report_category).
REPORT_CATEGORY_SQL = """case
        when coalesce(m.closed, false) and coalesce(m.won, false) then 'Closed'
        when coalesce(m.closed, false) then 'Omitted'
        when not coalesce(m.qualified, true) then 'Unqualified'
        else coalesce(s.forecast_category, m.forecast_category, 'Pipeline')
    end"""


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
            if name not in FILTER_COLUMNS:
                raise ValueError(f"unknown filter {name!r}; known: {', '.join(FILTER_COLUMNS)}")
            if value is None:
                continue
            items = (value,) if isinstance(value, str) else tuple(value)
            clean[name] = tuple(sorted({str(v) for v in items if str(v).strip()}))
        return cls(**clean)

    def active(self) -> dict[str, tuple[str, ...]]:
        """Only the dimensions with a selection."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in FILTER_COLUMNS and getattr(self, f.name)}

    def scope_key(self) -> str:
        """A stable text for the selection ('' for no filter), e.g. 'segment=SMB;team=A|B'."""
        return ";".join(f"{k}={'|'.join(v)}" for k, v in self.active().items())

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a frame with a column per filter dimension (a held, filter-free
        intermediate) that this selection keeps."""
        kept = pd.Series(True, index=frame.index)
        for name, values in self.active().items():
            kept &= frame[name].isin(values)
        return frame[kept]

    def where(self) -> tuple[str, list]:
        """SQL conditions (joined with `and`, '' when none) and their parameters."""
        clauses, params = [], []
        for name, values in self.active().items():
            clauses.append(f"{FILTER_COLUMNS[name]} in ({', '.join('?' * len(values))})")
            params.extend(values)
        return " and ".join(clauses), params


def snapshot_on_or_before(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """The snapshot date that fixes "state as of `as_of`"; None when there are no snapshots at all.

    With snapshots but none on or before `as_of`, returns the day before the first one, at which
    no deal existed yet.
    """
    first, chosen = con.cursor().execute(
        "select min(snapshot_date), max(snapshot_date) filter (where snapshot_date <= ?) "
        "from snapshot_dates", [as_of]
    ).fetchone()
    if first is None:
        return None
    if chosen is None:
        return date.fromordinal(first.toordinal() - 1)
    return chosen


def snapshot_dates(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every snapshot date, oldest first (a few hundred at most: one a week)."""
    return [row[0] for row in con.cursor().execute(
        "select snapshot_date from snapshot_dates order by 1").fetchall()]


def latest_snapshot(con: duckdb.DuckDBPyConnection) -> date | None:
    return con.cursor().execute("select max(snapshot_date) from snapshot_dates").fetchone()[0]


def default_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """SPEC: as-of defaults to the latest snapshot date, else today."""
    return latest_snapshot(con) or date.today()


def state_key(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """What `deals_sql` should read for "state as of `as_of`": None when that state is the
    opportunities table itself (no snapshots, or as-of on or after the latest snapshot, which
    always equals the table), else the snapshot date. The common case, today's view, then
    reads one table with no join to the history."""
    snapshot = snapshot_on_or_before(con, as_of)
    if snapshot is None or snapshot == latest_snapshot(con):
        return None
    return snapshot


def state_sql(snapshot: date | None) -> tuple[str, list]:
    """Deals' stage, category, amount, close date and owner at a snapshot date.

    Grain: one row per opportunity that exists at the snapshot. `None` reads the
    opportunities table (the current state).
    """
    if snapshot is None:
        return ("select opportunity_id, stage, forecast_category, amount, close_date, owner "
                "from opportunities"), []
    return ("select opportunity_id, stage, forecast_category, amount, close_date, owner "
            "from opportunity_history "
            "where valid_from <= ? and (valid_to is null or valid_to > ?)"), [snapshot, snapshot]


_DEAL_COLUMNS = """
        select s.opportunity_id, s.stage, s.forecast_category, s.amount, s.close_date, s.owner,
               o.name, o.account_name, o.segment, o.region, o.team, o.type, o.channel,
               o.created_date, o.sales_accepted_date, o.lost_reason, o.competitor, o.loss_class,
               o.renewal_risk, o.next_step,
               coalesce(m.qualified, true) as qualified,
               coalesce(m.closed, false) as closed,
               coalesce(m.won, false) as won,
               coalesce(m.redlining, false) as redlining,
               {category} as category"""


def _as_current(sql: str) -> str:
    """Point the state alias `s.` at the opportunities table `o.` (fixed SQL text only)."""
    return re.sub(r"\bs\.", "o.", sql)


def deals_sql(snapshot: date | None, filters: Filters = Filters()) -> tuple[str, list]:
    """Deals as of a snapshot (None: the current state), filtered, with stage flags and report
    `category`.

    Grain: one row per opportunity. Columns: the state's columns, the descriptive columns of
    opportunities, stage flags (qualified, closed, won, redlining) and category.
    """
    condition, filter_params = filters.where()
    where = "where " + condition if condition else ""
    columns = _DEAL_COLUMNS.format(category=REPORT_CATEGORY_SQL)
    if snapshot is None:
        # The current state is the opportunities table: one row plays both parts (s and o).
        sql = f"""{_as_current(columns)}
        from opportunities o
        left join stage_map m on m.stage = o.stage
        {_as_current(where)}
    """  # noqa: S608 - identifiers come from FILTER_COLUMNS; values are bound
        return sql, filter_params
    state, params = state_sql(snapshot)
    sql = f"""{columns}
        from ({state}) s
        left join opportunities o using (opportunity_id)
        left join stage_map m on m.stage = s.stage
        {where}
    """  # noqa: S608 - identifiers come from FILTER_COLUMNS; values are bound
    return sql, params + filter_params


def distinct_values(con: duckdb.DuckDBPyConnection, dimension: str) -> list[str]:
    """Values a filter can take, sorted, for the sidebar pickers."""
    if dimension not in FILTER_COLUMNS:
        raise ValueError(f"unknown dimension {dimension!r}")
    column = FILTER_COLUMNS[dimension].split(".")[1]
    source = "opportunities"
    if dimension == "owner":  # past owners too: a deal may have changed hands
        source = "(select owner from opportunities union select owner from opportunity_history)"
    rows = con.cursor().execute(
        f"select distinct {column} from {source} where {column} is not null order by 1"  # noqa: S608
    ).fetchall()
    return [r[0] for r in rows]
