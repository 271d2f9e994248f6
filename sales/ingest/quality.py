"""The data-quality panel: what in the loaded deals deserves a look, read from the database so
it stays true after a reload (the import's own warnings are shown once, at import time)."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sales.losses import QUALIFIED_LOSS_SQL
from sales.stages import stage_flag_sql

# A check lists at most this many deals on screen; the explorer has the rest.
MAX_LISTED = 200

_CLOSED = stage_flag_sql("closed")
# name → (label, condition on `o` joined with stage map `m`, what it means, what to do).
# Fixed text only: the conditions are pasted into SQL.
CHECKS: dict[str, tuple[str, str, str, str]] = {
    "open_without_close_date": (
        "Open, no close date",
        f"not {_CLOSED} and o.close_date is null",
        "Left out of every period view.",
        "Give them an expected close date in the CRM and import again."),
    "close_date_passed": (
        "Open, close date passed",
        f"not {_CLOSED} and o.close_date < $as_of",
        "Still open after the date they were meant to close.",
        "Move the close date forward or close the deal in the CRM."),
    "open_zero_amount": (
        "Open, no amount",
        f"not {_CLOSED} and coalesce(o.amount, 0) = 0",
        "They count as 0 in every total.",
        "Fill in the deal value in the CRM."),
    "lost_zero_amount": (
        "Lost, amount 0",
        f"{QUALIFIED_LOSS_SQL} and coalesce(o.amount, 0) = 0",
        "Rates by amount count them as nothing.",
        "Rates by count are unaffected; export the value at loss if the CRM keeps it."),
    "unmapped_loss_reason": (
        "Lost reason not mapped",
        f"""{QUALIFIED_LOSS_SQL} and nullif(trim(o.competitor), '') is null
           and nullif(trim(o.lost_reason), '') is not null
           and lower(trim(o.lost_reason)) not in
               (select lower(trim(lost_reason)) from loss_reason_map)""",  # noqa: S608
        "Counted as no decision.",
        "Map the reasons on the Maps page (loss reasons)."),
    "no_segment": (
        "No segment",
        "o.segment is null",
        "In no segment's view, coverage or target (the company total still counts them).",
        "Import the accounts file with employee counts, or give the export a segment column."),
    "unknown_type": (
        "Type not recognised",
        "o.type is not null and o.type not in ('New Business', 'Expansion', 'Renewal')",
        "Reviewed with New & Expansion on the forecast call.",
        "Map the value in a mapping file's [types] and import again."),
    "unknown_stage": (
        "Stage not in the stage map",
        "m.stage is null",
        "Reported by their own category, with no stage flags.",
        "Add the stage on the Maps page."),
}


def quality_summary(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """One row per check with deals affected: check (code), label, deals, amount, meaning, fix."""
    parts = ", ".join(
        f"count(*) filter (where {condition}) as {name}, "
        f"coalesce(sum(o.amount) filter (where {condition}), 0)::double as {name}_amount"
        for name, (_, condition, _, _) in CHECKS.items())
    row = con.cursor().execute(
        f"select {parts} from opportunities o left join stage_map m on m.stage = o.stage",  # noqa: S608
        {"as_of": as_of}).fetchall()[0]
    records = []
    for index, (name, (label, _, meaning, fix)) in enumerate(CHECKS.items()):
        deals, amount = row[2 * index], row[2 * index + 1]
        if deals:
            records.append({"check": name, "label": label, "deals": int(deals),
                            "amount": float(amount), "meaning": meaning, "fix": fix})
    return pd.DataFrame(records, columns=["check", "label", "deals", "amount", "meaning", "fix"])


def quality_deals(con: duckdb.DuckDBPyConnection, check: str, as_of: date,
                  limit: int = MAX_LISTED) -> pd.DataFrame:
    """The deals behind one check, largest first. Grain: one row per opportunity."""
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}")
    condition = CHECKS[check][1]
    params: dict[str, object] = {"limit": limit}
    if "$as_of" in condition:
        params["as_of"] = as_of
    frame = con.cursor().execute(
        f"""select o.opportunity_id, o.name, o.account_name, o.owner, o.stage, o.amount,
                   o.close_date, o.lost_reason
            from opportunities o left join stage_map m on m.stage = o.stage
            where {condition}
            order by o.amount desc nulls last, o.opportunity_id
            limit $limit""",  # noqa: S608 - conditions are fixed text
        params).df()
    frame["amount"] = frame["amount"].astype("float64")
    return frame
