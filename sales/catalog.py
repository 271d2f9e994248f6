"""What is in the database: sizes, snapshot span, versions, and the reference tables."""

from __future__ import annotations

from dataclasses import asdict

import duckdb
import pandas as pd

from sales.db import data_version
from sales.schema import schema_version
from sales.settings import SETTINGS, load_settings


def summary(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Counts and spans for the Data page and the README's schema notes."""
    cur = con.cursor()
    opportunities, accounts, owners, first_close, last_close = cur.execute(
        "select count(*), count(distinct account_name), count(distinct owner), min(close_date), "
        "max(close_date) from opportunities").fetchone()
    history_rows = cur.execute("select count(*) from opportunity_history").fetchone()[0]
    snapshots, first_snapshot, last_snapshot = cur.execute(
        "select count(*), min(snapshot_date), max(snapshot_date) from snapshot_dates").fetchone()
    return {
        "opportunities": opportunities, "accounts": accounts, "owners": owners,
        "first_close_date": first_close, "last_close_date": last_close,
        "history_rows": history_rows, "snapshots": snapshots,
        "first_snapshot": first_snapshot, "last_snapshot": last_snapshot,
        "targets": cur.execute("select count(*) from targets").fetchone()[0],
        "forecast_calls": cur.execute("select count(*) from forecast_calls").fetchone()[0],
        "submissions": cur.execute("select count(*) from people_calls").fetchone()[0],
        "leads": cur.execute("select count(*) from leads").fetchone()[0],
        "lead_snapshots": cur.execute("select count(*) from lead_snapshot_dates").fetchone()[0],
        "follow_ups": cur.execute("select count(*) from follow_ups").fetchone()[0],
        "schema_version": schema_version(cur), "data_version": data_version(cur),
    }


def settings_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every setting with its value, default and help. Grain: one row per setting."""
    values = asdict(load_settings(con))
    return pd.DataFrame([{"setting": s.name, "value": str(values[s.name]),
                          "default": str(s.default), "help": s.help} for s in SETTINGS])


def stage_map_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The stage map with how many current deals sit in each stage. Grain: one row per stage."""
    return con.cursor().execute("""
        select m.stage, m.forecast_category, m.qualified, m.closed, m.won, m.redlining,
               m.probability, m.probability_source, count(o.opportunity_id) as deals
        from stage_map m left join opportunities o on o.stage = m.stage
        group by m.stage, m.forecast_category, m.qualified, m.closed, m.won, m.redlining,
                 m.probability, m.probability_source, m.sort_order
        order by m.sort_order""").df()


def loss_reason_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Mapped lost reasons with their current deal counts. Grain: one row per reason."""
    return con.cursor().execute("""
        select r.lost_reason, r.loss_class, count(o.opportunity_id) as deals
        from loss_reason_map r
        left join opportunities o on lower(trim(o.lost_reason)) = lower(trim(r.lost_reason))
        group by all order by r.loss_class, deals desc, r.lost_reason""").df()
