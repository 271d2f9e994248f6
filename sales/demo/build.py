"""build_demo: simulate, then write every table into a file built aside and swapped into place,
so a failed or interrupted build leaves any earlier file untouched."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np

from sales import audit, precomputed
from sales.db import bump_data_version, connect
from sales.demo import leads, plan, tables
from sales.demo.deals import describe_outcomes, new_deals
from sales.demo.fiscal import HISTORY_QUARTERS, Calendar
from sales.demo.history import history, last_rows
from sales.demo.simulate import COMPANIES, simulate_lives
from sales.losses import reclassify_losses

Progress = Callable[[float, str], None]
# Deal columns read after the history is built; the event matrices are dropped before writing
# to keep a million-deal build within memory.
WRITTEN_COLUMNS = frozenset({
    "seg", "account", "account_names", "employees", "team", "type", "channel", "lead",
    "product", "created", "accepted", "close", "close_stage", "reason", "competitor",
    "competitor_seen_open", "renewal_risk", "next_step_pick", "call_flip", "call_reason",
    "owner0",
})


def build_demo(path: str | os.PathLike, opportunities: int = 20_000, seed: int = 42,
               as_of: date | None = None, fy_start_month: int = 1,
               progress: Progress | None = None, by: str | None = None,
               company: str = "standard", history_quarters: int = HISTORY_QUARTERS) -> dict:
    """Build a demo database at `path` (replacing any file there) and return a summary dict
    (opportunities, history_rows, snapshot_dates, first_snapshot, last_snapshot, seconds).
    The new file's audit trail starts with the build, attributed to `by` (default: the
    operating-system user at the command line).

    The same (opportunities, seed, as_of, fy_start_month) always builds identical tables (the
    audit line says when it was built). `company` picks the dynamics (`simulate.COMPANIES`:
    "standard", or "unreliable" whose Commit is unreliable and whose pushed deals rarely
    close); `history_quarters` how many completed quarters of weekly snapshots it holds.
    """
    started = time.perf_counter()
    if opportunities < 1:
        raise ValueError(f"opportunities must be at least 1, got {opportunities}")
    if company not in COMPANIES:
        raise ValueError(f"company must be one of {', '.join(COMPANIES)}, got {company!r}")
    if history_quarters < 1:
        raise ValueError(f"history_quarters must be at least 1, got {history_quarters}")
    if not 1 <= fy_start_month <= 12:
        raise ValueError(f"fy_start_month must be 1-12, got {fy_start_month}")
    as_of = as_of or date.today()
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    report = progress or (lambda fraction, message: None)

    rng = np.random.default_rng(seed)
    cal = Calendar(as_of, fy_start_month, history_quarters)
    report(0.02, "generating accounts and deals")
    deals = new_deals(rng, opportunities, cal)
    simulate_lives(rng, deals, cal, COMPANIES[company])
    describe_outcomes(rng, deals)
    report(0.15, "simulating weekly history")
    changes = history(deals, cal)
    deals = {key: column for key, column in deals.items() if key in WRITTEN_COLUMNS}
    report(0.35, "writing opportunities")
    who = by or audit.command_line_user()
    summary = _build_aside(Path(path),
                           lambda con: _fill(con, rng, deals, changes, cal, report, who))
    summary["seconds"] = round(time.perf_counter() - started, 2)
    report(1.0, "done")
    return summary


def _build_aside(target: Path, fill: Callable[[duckdb.DuckDBPyConnection], dict]) -> dict:
    """Run `fill` on a new file next to `target`, then swap it in; on failure remove it."""
    building = target.with_name(target.name + ".building")
    leftovers = (building, building.with_name(building.name + ".wal"))
    for stale in leftovers:
        stale.unlink(missing_ok=True)
    try:
        con = connect(building)
        try:
            summary = fill(con)
            con.execute("checkpoint")
        finally:
            con.close()
    except BaseException:
        for partial in leftovers:
            partial.unlink(missing_ok=True)
        raise
    Path(str(target) + ".wal").unlink(missing_ok=True)  # the old file's log must not replay
    os.replace(building, target)
    return summary


def _fill(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, deals: dict, changes: dict,
          cal: Calendar, report: Progress, who: str) -> dict:
    """Write every table; returns the summary so far."""
    if cal.fy != 1:
        con.execute("insert or replace into settings values ('fiscal_year_start_month', ?)",
                    [str(cal.fy)])
    current = last_rows(changes)
    tables.write_opportunities(con, deals, changes, current, cal)
    report(0.5, "writing history")
    tables.write_history(con, changes, cal)
    report(0.8, "writing targets")
    plan.write_targets(con, rng, deals, changes, current, cal)
    report(0.85, "writing the hierarchy and the people's calls")
    plan.write_hierarchy(con, cal)
    plan.write_submissions(con, rng, changes, cal)
    report(0.9, "writing forecast calls")
    plan.write_calls(con, rng, deals, changes, cal)
    report(0.92, "writing leads and follow-ups")
    # Their own generator, so the random stream of everything above stays as it was.
    lead_rng, follow_up_rng = rng.spawn(2)
    lead_count = leads.write_leads(con, lead_rng, deals, cal)
    leads.write_follow_ups(con, follow_up_rng, cal)
    report(0.96, "classifying losses")
    reclassify_losses(con)
    audit.record(con, who, audit.DEMO,
                 f"demo built: {len(deals['seg']):,} opportunities, {lead_count:,} leads, "
                 f"snapshots up to {cal.as_of}")
    bump_data_version(con)
    report(0.97, "precomputing the pages' intermediates")
    precomputed.refresh(con)
    return {
        "opportunities": int(len(deals["seg"])),
        "leads": int(lead_count),
        "history_rows": int(len(changes["deal"])),
        "snapshot_dates": int(len(cal.snap_days)),
        "first_snapshot": cal.snapshot(0),
        "last_snapshot": cal.snapshot(len(cal.snap_days) - 1),
    }
