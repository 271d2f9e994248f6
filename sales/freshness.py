"""How fresh the data is: the last write that brought deals in (an import, a CRM sync or a
demo build), for the Overview's caption and the board pack's footer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from sales import audit
from sales.query import latest_snapshot

_LOADS = (audit.IMPORT, audit.SYNC, audit.DEMO)


def last_load(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """The audit line of the last import, CRM sync or demo build: (happened_at, who, action,
    summary); None when the trail has none (a database written before the audit trail)."""
    rows = con.cursor().execute(
        """select happened_at, who, action, summary from audit_log
           where list_contains($loads, action) order by happened_at desc, audit_id desc
           limit 1""", {"loads": list(_LOADS)}).fetchall()
    return rows[0] if rows else None


@dataclass(frozen=True)
class LastLoad:
    """When the data last changed: the latest load on the audit trail and the latest snapshot."""

    load: tuple | None  # `last_load`
    last_snapshot: date | None

    def as_report(self) -> dict[str, object]:
        """The report's `freshness` keys."""
        found = self.load
        return {"last_import": found[0].isoformat(sep=" ") if found else None,
                "last_import_by": found[1] if found else None,
                "last_import_action": found[2] if found else None,
                "last_import_summary": found[3] if found else None,
                "last_snapshot": self.last_snapshot.isoformat() if self.last_snapshot
                else None}


def last_change(con: duckdb.DuckDBPyConnection) -> LastLoad:
    """The latest import, CRM sync or demo build (when, who, what) and the latest snapshot."""
    return LastLoad(last_load(con), latest_snapshot(con))


def freshness(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> str:
    """One line: what loaded the data last and how long ago, with the latest snapshot date;
    '' when the trail has no load."""
    found = last_load(con)
    if found is None:
        return ""
    at, _who, action, summary = found
    cur = con.cursor()
    what = {audit.IMPORT: "import", audit.DEMO: "demo build"}.get(action)
    if action == audit.SYNC:
        what = f"{summary.split(' sync', 1)[0]} sync"
    latest = cur.execute("select max(snapshot_date) from snapshot_dates").fetchall()[0][0]
    ago = _ago((now or datetime.now()) - at)
    line = f"data from the last {what}, {at:%d %b %Y %H:%M} ({ago})"
    return line + (f", latest snapshot {latest:%d %b %Y}" if latest else "")


def _ago(delta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"
