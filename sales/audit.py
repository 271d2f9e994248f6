"""The audit trail: every write — import, map, target or setting edit, saved call, access
change, follow-up raised or closed — with who made it, when, what and a short summary.
Written in the same transaction as the change, so a change that did not happen leaves no line,
and kept in the database file, so imports and restarts never remove it."""

from __future__ import annotations

import getpass
from datetime import datetime

import duckdb
import pandas as pd

# What a write was, for filtering the trail.
IMPORT, EDIT, SAVED_CALL, ACCESS, DEMO = "import", "edit", "saved call", "access", "demo"
FOLLOW_UP = "follow-up"
SYNC = "sync"
ACTIONS = (IMPORT, EDIT, SAVED_CALL, ACCESS, DEMO, FOLLOW_UP, SYNC)
# A summary is a line a person reads, not a dump.
MAX_SUMMARY = 500


def command_line_user() -> str:
    """Who a command-line write is attributed to: the operating-system user."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "command line"


def record(con: duckdb.DuckDBPyConnection, who: str, action: str, summary: str,
           at: datetime | None = None) -> None:
    """Append one line to the trail, inside the caller's write transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    con.execute("insert into audit_log (happened_at, who, action, summary) values (?, ?, ?, ?)",
                [at or datetime.now().replace(microsecond=0), who or "unknown", action,
                 " ".join(summary.split())[:MAX_SUMMARY]])


def trail(con: duckdb.DuckDBPyConnection, action: str | None = None, who: str = "",
          limit: int = 10_000) -> pd.DataFrame:
    """The trail, newest first, optionally one kind of action and a who containing `who`.

    Grain: one row per write. Columns: happened_at, who, action, summary."""
    return con.cursor().execute(
        """select happened_at, who, action, summary from audit_log
           where ($action is null or action = $action)
             and ($who = '' or contains(lower(who), lower($who)))
           order by happened_at desc, audit_id desc limit $limit""",
        {"action": action, "who": who.strip(), "limit": limit}).df()
