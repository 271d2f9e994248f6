"""How fresh the data is: the last write that brought deals in (an import, a CRM sync or a
demo build), for the Overview's caption."""

from __future__ import annotations

from datetime import datetime

import duckdb

from sales import audit

_LOADS = (audit.IMPORT, audit.SYNC, audit.DEMO)


def freshness(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> str:
    """One line: what loaded the data last and how long ago, with the latest snapshot date;
    '' when the trail has no load (a database written before the audit trail)."""
    cur = con.cursor()
    rows = cur.execute(
        """select happened_at, action, summary from audit_log
           where list_contains($loads, action) order by happened_at desc, audit_id desc
           limit 1""", {"loads": list(_LOADS)}).fetchall()
    if not rows:
        return ""
    at, action, summary = rows[0]
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
