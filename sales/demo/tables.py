"""Writing numpy columns into the database: arrow frames with dictionary-coded strings and
day-number dates, inserted through one static statement per table (so the SQL holds no data)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from sales.demo import company as co
from sales.demo.fiscal import Calendar
from sales.segments import SEGMENTS

MAX_DEALS = 9_999_999  # opportunity ids have seven digits
HISTORY_ROWS_PER_INSERT = 2_000_000  # keeps the arrow copies small at a million deals


def codes(values: np.ndarray, names) -> pa.DictionaryArray:
    """A string column as codes into `names`; code -1 is null."""
    values = np.asarray(values, np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(values, mask=values < 0),
                                          pa.array(list(names), pa.string()))


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """A date column from days since 1970-01-01."""
    return pa.array(np.asarray(days, np.int32), pa.int32(), mask=null).view(pa.date32())


# Deals go in by close date, as an import writes them (sales.ingest.opportunities): a period's
# questions then read only the row groups holding its close dates.
_INSERTS = {
    "opportunities": """
        insert into opportunities
        select 'OPP-' || lpad(cast(deal + 1 as varchar), 7, '0'),
               account_name || ' - ' || product || type_suffix,
               account_name, account_employees, segment, region, team, owner, type, channel,
               stage, forecast_category, amount, close_date, created_date,
               sales_accepted_date, lost_reason, competitor, null, renewal_risk, next_step,
               lead_source, amount, 'USD'
        from frame order by close_date, deal
    """,
    "opportunity_history": """
        insert into opportunity_history
        select 'OPP-' || lpad(cast(deal + 1 as varchar), 7, '0'), valid_from, valid_to, stage,
               forecast_category, amount, close_date, owner, amount, 'USD'
        from frame
    """,
    "snapshot_dates": "insert into snapshot_dates select snapshot_date from frame",
    "targets": "insert into targets select period, scope, scope_value, amount from frame",
    "people_calls_frame": """
        insert into people_calls (user_name, period, forecast, upside, note, submitted_at,
                                  submitted_by)
        select user_name, period, forecast::decimal(18, 2), upside::decimal(18, 2), '',
               submitted_at, submitted_by from frame order by submitted_at, user_name""",
    "forecast_call_decisions": """
        insert into forecast_call_decisions
        select call_id, 'OPP-' || lpad(cast(deal + 1 as varchar), 7, '0'), included, reason,
               amount, forecast_category
        from frame
    """,
}


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pa.Table) -> None:
    """Insert an arrow table into `table` through its static select over the view `frame`."""
    con.register("frame", frame)
    try:
        con.execute(_INSERTS[table])
    finally:
        con.unregister("frame")


def _next_steps(stage: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """A next-step text code fitting each open deal's stage."""
    index = {t: i for i, t in enumerate(co.NEXT_STEP_TEXTS)}
    table = np.full((len(co.STAGE_NAMES), co.NEXT_STEP_PICKS), -1, np.int64)
    for code, texts in co.NEXT_STEPS.items():
        table[code] = [index[texts[i % len(texts)]] for i in range(co.NEXT_STEP_PICKS)]
    return table[stage, pick]


def write_opportunities(con: duckdb.DuckDBPyConnection, d: dict, h: dict,
                        current: np.ndarray, cal: Calendar) -> None:
    """The opportunities table: the state of each deal's current history row plus its
    descriptive columns (what is only known once closed is left empty while open)."""
    n = len(d["seg"])
    if n > MAX_DEALS:
        raise ValueError(f"the demo numbers opportunities with 7 digits: at most {MAX_DEALS:,}")
    stage = h["stage"][current]
    closed = d["close"] <= cal.as_of
    lost = closed & (stage != co.WON)
    competitor = np.where(closed | d["competitor_seen_open"], d["competitor"], -1)
    competitor = np.where(lost & (stage != co.LOST), -1, competitor)  # unqualified: no rival
    accepted = d["accepted"]
    not_accepted = accepted > cal.as_of
    frame = pa.table({
        "deal": np.arange(n, dtype=np.int64),
        "account_name": codes(d["account"], d["account_names"]),
        "product": codes(d["product"], co.PRODUCTS),
        "type_suffix": codes(d["type"], co.TYPE_NAME_SUFFIX),
        "account_employees": d["employees"].astype(np.int32),
        "segment": codes(d["seg"], SEGMENTS),
        "region": codes(co.TEAM_REGION[d["team"]], co.REGIONS),
        "team": codes(d["team"], co.TEAM_NAMES),
        "owner": codes(h["owner"][current], co.REPS),
        "type": codes(d["type"], co.TYPES),
        "channel": codes(d["channel"], co.CHANNELS),
        "stage": codes(stage, co.STAGE_NAMES),
        "forecast_category": codes(h["cat"][current], co.CATS),
        "amount": h["amount"][current],
        "close_date": dates(h["cd"][current]),
        "created_date": dates(d["created"]),
        "sales_accepted_date": dates(np.where(not_accepted, 0, accepted), not_accepted),
        "lost_reason": codes(np.where(lost, d["reason"], -1), co.REASONS),
        "competitor": codes(competitor, co.COMPETITORS),
        "renewal_risk": codes(np.where(~closed, d["renewal_risk"], -1), co.RENEWAL_RISKS),
        "next_step": codes(np.where(~closed, _next_steps(stage, d["next_step_pick"]), -1),
                           co.NEXT_STEP_TEXTS),
        "lead_source": codes(d["lead"], co.LEAD_SOURCES),
    })
    insert(con, "opportunities", frame)


def write_history(con: duckdb.DuckDBPyConnection, h: dict, cal: Calendar) -> None:
    """snapshot_dates and opportunity_history (valid_to null on each deal's current row)."""
    n_snaps = len(cal.snap_days)
    insert(con, "snapshot_dates", pa.table({"snapshot_date": dates(cal.snap_days)}))
    current = h["kt"] >= n_snaps
    for lo in range(0, len(h["deal"]), HISTORY_ROWS_PER_INSERT):
        sl = slice(lo, lo + HISTORY_ROWS_PER_INSERT)
        frame = pa.table({
            "deal": h["deal"][sl].astype(np.int64),
            "valid_from": dates(cal.snap_days[h["kf"][sl]]),
            "valid_to": dates(cal.snap_days[np.minimum(h["kt"][sl], n_snaps - 1)], current[sl]),
            "stage": codes(h["stage"][sl], co.STAGE_NAMES),
            "forecast_category": codes(h["cat"][sl], co.CATS),
            "amount": h["amount"][sl],
            "close_date": dates(h["cd"][sl]),
            "owner": codes(h["owner"][sl], co.REPS),
        })
        insert(con, "opportunity_history", frame)
