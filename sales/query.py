"""The one deals relation every metric reads: "state as of a date", the deal's descriptive
fields, its stage flags and the category it is reported in.

Every metric reads deals through `deals_sql`, so "as of", filters and category rules are
written once. Its columns carry bare names (segment, owner, category, ...), which the view's
filters (`sales.view.Filters.condition`) and every grouping use as they are. Values are named
parameters; column names come from allow-lists only.
"""

from __future__ import annotations

from datetime import date

import duckdb

from sales.snapshots import CURRENCY_COLUMNS, STATE_COLUMNS, standing_sql
from sales.sql import Sql, sql
from sales.stages import CLOSED, OMITTED, PIPELINE, UNQUALIFIED, stage_flag_sql
from sales.view import FILTER_DIMENSIONS, Filters

# The filter dimensions the deal itself holds; owner is its state's (deals change hands).
DESCRIPTIVE_FILTERS = tuple(d for d in FILTER_DIMENSIONS if d != "owner")
# Dimensions a roll-up may group by: the filters, and competitor and stage.
GROUP_DIMENSIONS = (*FILTER_DIMENSIONS, "competitor", "stage")
# What the deal is, as the CRM last described it (docs/data-model.md#deleted-deals: a deal deleted since keeps
# the fields it last had, from `departed_opportunities`).
DESCRIPTIVE_COLUMNS = ("name", "account_name", "account_employees", "segment", "region", "team",
                       "type", "channel", "created_date", "sales_accepted_date", "lost_reason",
                       "competitor", "loss_class", "renewal_risk", "next_step", "lead_source")
# Every deal we have had in a full picture: the current ones and those deleted since.
KNOWN_DEALS = "known_opportunities"


def report_category_sql(state: str = "s", stage: str = "m") -> str:
    """The one definition of the category a deal is reported in, over a state alias (its
    forecast_category) and a stage_map alias: closed and won → Closed, closed → Omitted, open
    in a stage before SAL/SAO → Unqualified, else its own forecast category (the stage's when
    it has none)."""
    return f"""case
        when {stage_flag_sql('closed', stage)} and {stage_flag_sql('won', stage)} then '{CLOSED}'
        when {stage_flag_sql('closed', stage)} then '{OMITTED}'
        when not {stage_flag_sql('qualified', stage)} then '{UNQUALIFIED}'
        else coalesce({state}.forecast_category, {stage}.forecast_category, '{PIPELINE}')
    end"""



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
    """As-of defaults to the latest snapshot date, else today (docs/data-model.md#periods-and-as-of)."""
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


_STATE_LIST = ", ".join(STATE_COLUMNS + CURRENCY_COLUMNS)


def state_relation(snapshot: date | None) -> Sql:
    """Deals' stage, category, amount, close date and owner at a snapshot date (`$state_day`).

    Grain: one row per opportunity that exists at the snapshot. `None` reads the
    opportunities table (the current state).
    """
    if snapshot is None:
        return sql(f"select {_STATE_LIST} from opportunities")  # noqa: S608 - constant columns
    return sql(f"""select {_STATE_LIST} from opportunity_history
                   where {standing_sql("$state_day")}""",  # noqa: S608
               state_day=snapshot)


def _deal_columns(state: str, described: str) -> str:
    """The deals relation's columns: the state's (alias `state`), the deal's descriptive
    fields (alias `described`), the stage flags (alias m) and the report category."""
    return ", ".join([
        *(f"{state}.{c}" for c in STATE_COLUMNS + CURRENCY_COLUMNS),
        *(f"{described}.{c}" for c in DESCRIPTIVE_COLUMNS),
        *(f"{stage_flag_sql(flag)} as {flag}" for flag in ("qualified", "closed", "won",
                                                            "redlining")),
        f"{report_category_sql(state, 'm')} as category",
    ])


def deals_sql(snapshot: date | None, filters: Filters = Filters()) -> Sql:
    """Deals as of a snapshot (None: the current state), filtered, with stage flags and report
    `category`.

    Grain: one row per opportunity. Columns: the state's (STATE_COLUMNS), the deal's
    descriptive fields (DESCRIPTIVE_COLUMNS; for a deal deleted since, the ones it last had),
    qualified, closed, won, redlining and category — all under bare names.
    """
    if snapshot is None:
        # The current state is the opportunities table: one row plays both parts.
        base = sql(f"""select {_deal_columns("o", "o")}
                       from opportunities o left join stage_map m on m.stage = o.stage""")  # noqa: S608
    else:
        state = state_relation(snapshot)
        base = sql(f"""select {_deal_columns("s", "o")}
                       from ({state}) s
                       left join {KNOWN_DEALS} o using (opportunity_id)
                       left join stage_map m on m.stage = s.stage""", state)  # noqa: S608
    if not filters.active():
        return base
    condition = filters.condition()
    return sql(f"select * from ({base}) where {condition}", base, condition)  # noqa: S608


def distinct_values(con: duckdb.DuckDBPyConnection, dimension: str,
                    scope: Filters = Filters()) -> list[str]:
    """Values a filter can take, sorted, for the sidebar pickers (deals deleted since and past
    owners included: past views still show them); within a scope, only the values of its
    deals (a manager's pickers do not list other teams' reps)."""
    if dimension not in FILTER_DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    within = scope.condition()
    source = sql(f"(select * from {KNOWN_DEALS} where {within})", within)  # noqa: S608
    if dimension == "owner":  # the state's: a deal may have changed hands
        # Only the history rows of owners not listed yet are looked up by deal: joining every
        # history row to the deals cost a third of a second at 1,000,000 deals.
        listed = [r[0] for r in con.cursor().execute(*sql(
            f"select distinct owner from {source} where owner is not null", source)).fetchall()]  # noqa: S608
        source = sql(f"""(select owner from {source} union
                          select h.owner from opportunity_history h
                          where h.owner is not null
                            and not list_contains($listed_owners::varchar[], h.owner)
                            and h.opportunity_id in (select opportunity_id from {source}))""",  # noqa: S608
                     source, listed_owners=listed)
    rows = con.cursor().execute(*sql(
        f"select distinct {dimension} from {source} where {dimension} is not null order by 1",  # noqa: S608
        source)).fetchall()
    return [r[0] for r in rows]
