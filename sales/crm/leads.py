"""A CRM's leads into the lead import (`sales.ingest.leads.load_lead_rows`), inside the sync's
write: the previous picture with the changed leads merged in, the MQL date from the status
history, and on a first sync the weekly lead snapshots rebuilt from that history.

- **Statuses** go through the lead status map as an import's do (the handbook's and
  Salesforce's default statuses ship in it; the mapping file's `[lead_statuses]` adds more). A
  status the map does not know is kept as `open` and listed in the sync's notes, so no lead is
  dropped; map it on Data › Maps to place it.
- **MQL date**: the mapping's `[lead_columns] mql_date` field when it names one; else the
  first status change into an MQL status (MQL, a status at or past acceptance, or a qualified
  one), else, for a lead standing in one with no change recorded, its created date.
- The picture is stored like the deals' (`crm_records`, source `<crm>:leads`), with its own
  high-water mark (`crm_sync`), so later syncs read only the leads changed since.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import pandas as pd

from sales.crm.records import stored_records, write_records
from sales.ingest.leads import TABLE_COLUMNS, load_lead_rows
from sales.ingest.reference import load_reference
from sales.lead_statuses import OPEN, QUALIFIED

# The suffix of a CRM's key under which its leads' picture and mark are stored.
LEADS_SUFFIX = ":leads"
# A first sync rebuilds at most this many weekly lead snapshots (two years of calls).
LEAD_BACKFILL_WEEKS = 104
_MQL = "mql"


@dataclass
class LeadsFetched:
    """A CRM's leads as read: changed (or, `full`, all) leads as canonical text columns
    (TABLE_COLUMNS), deleted ids, the latest last-modified time seen, and the status changes
    read ((lead id, ISO time, old status, new status), oldest first)."""

    records: list[dict[str, str | None]]
    deleted: list[str]
    high_water: str | None
    full: bool
    columns: str
    changes: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)


def mql_statuses(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """The statuses that make a lead an MQL: MQL itself, those at or past acceptance, and the
    qualified ones."""
    return {status for status, group, accepted in cur.execute(
        "select status, status_group, accepted from lead_status_map").fetchall()
            if accepted or group == QUALIFIED or status.lower() == _MQL}


def record_leads(cur: duckdb.DuckDBPyConnection, fetched: LeadsFetched, source: str,
                 label: str, day: date, actor: str) -> list[str]:
    """Merge, check and write the leads as the lead snapshot of `day` (and, on a first sync,
    the weekly ones before it); returns the notes for the sync's report. Raises
    `LeadRowsRejected` (nothing written) when a check fails."""
    key = source + LEADS_SUFFIX
    previous = stored_records(cur, key)
    picture = {} if fetched.full else dict(previous)
    for record in fetched.records:
        picture[record["lead_id"]] = record
    for gone in fetched.deleted:
        picture.pop(gone, None)
    notes = _unknown_statuses(cur, picture)
    _mql_dates(cur, picture, previous, fetched.changes)
    first = cur.execute("select count(*) from lead_snapshot_dates").fetchall()[0][0] == 0
    weeks = _backfill_days(picture, fetched.changes, day) if first else []
    reference = _reference(cur)
    for past in weeks:
        frame = _picture_at(picture, fetched.changes, past)
        if not frame.empty:
            load_lead_rows(cur, frame, past, actor, f"{label} leads", reference=reference,
                           audited=False)
    if picture:
        load_lead_rows(cur, _frame(list(picture.values())), day, actor, f"{label} leads",
                       reference=reference)
    _store(cur, key, picture, fetched, previous, day)
    notes.append(f"{len(fetched.records):,} lead(s) read ({'full' if fetched.full else 'incremental'}"
                 f"), {len(picture):,} leads as of {day}"
                 + (f"; {len(weeks):,} weekly lead snapshot(s) rebuilt from the status history"
                    if weeks else ""))
    return notes


def _reference(cur: duckdb.DuckDBPyConnection):
    """The import's reference with the lead status map as this transaction has it (a cursor
    of its own would not see the statuses just added)."""
    statuses = tuple(cur.execute("select status, status_group from lead_status_map "
                                 "order by sort_order").fetchall())
    return replace(load_reference(cur), lead_statuses=statuses)


def _unknown_statuses(cur: duckdb.DuckDBPyConnection, picture: dict[str, dict]) -> list[str]:
    known = {row[0] for row in cur.execute("select status from lead_status_map").fetchall()}
    unknown = sorted({r["status"] for r in picture.values() if r.get("status")} - known)
    if not unknown:
        return []
    order = cur.execute("select coalesce(max(sort_order), 0) from lead_status_map"
                        ).fetchall()[0][0]
    cur.executemany("insert into lead_status_map values (?, ?, ?, false)",
                    [[status, order + n, OPEN] for n, status in enumerate(unknown, 1)])
    return [f"lead status(es) not in the lead status map, kept as open: {', '.join(unknown)} "
            "(place them on Data › Maps › lead statuses, or in the mapping's [lead_statuses])"]


def _mql_dates(cur: duckdb.DuckDBPyConnection, picture: dict[str, dict],
               previous: dict[str, dict], changes: list[tuple]) -> None:
    """Fill each lead's MQL date where the CRM field gave none (see the module's rules)."""
    mql = mql_statuses(cur)
    first_in: dict[str, str] = {}
    for lead, when, _, new in changes:
        if new in mql and lead not in first_in:
            first_in[lead] = when[:10]
    for lead, record in picture.items():
        if record.get("mql_date"):
            continue
        earlier = (previous.get(lead) or {}).get("mql_date")
        record["mql_date"] = (earlier or first_in.get(lead)
                              or (record.get("created_date") if record.get("status") in mql
                                  else None))


def _backfill_days(picture: dict[str, dict], changes: list[tuple], day: date) -> list[date]:
    """The weekly dates before `day` a first sync rebuilds, from the earliest lead or change."""
    starts = [r["created_date"] for r in picture.values() if r.get("created_date")]
    starts += [when[:10] for _, when, _, _ in changes]
    if not starts:
        return []
    earliest = max(date.fromisoformat(min(starts)), day - timedelta(weeks=LEAD_BACKFILL_WEEKS))
    weeks = (day - earliest).days // 7
    return [day - timedelta(weeks=k) for k in range(weeks, 0, -1)]


def _picture_at(picture: dict[str, dict], changes: list[tuple], day: date) -> pd.DataFrame:
    """The leads as they stood at the end of `day`: created by then, each with its status then
    (the last change before, else the first change's old status, else today's), converted only
    if converted by then; the MQL date only once reached."""
    by_lead: dict[str, list[tuple]] = {}
    for change in changes:
        by_lead.setdefault(change[0], []).append(change)
    text = day.isoformat()
    rows = []
    for lead, record in picture.items():
        if (record.get("created_date") or "") > text:
            continue
        moves = by_lead.get(lead, [])
        before = [new for _, when, _, new in moves if when[:10] <= text]
        status = before[-1] if before else (moves[0][2] if moves else record.get("status"))
        converted = (record.get("converted_date") or "9999") <= text
        mql = record.get("mql_date") if (record.get("mql_date") or "9999") <= text else None
        rows.append(dict(record, status=status or record.get("status"), mql_date=mql,
                         converted_opportunity_id=(record.get("converted_opportunity_id")
                                                   if converted else None),
                         converted_date=record.get("converted_date") if converted else None))
    return _frame(rows)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in TABLE_COLUMNS} for r in rows],
                        columns=list(TABLE_COLUMNS), dtype=object)


def _store(cur: duckdb.DuckDBPyConnection, key: str, picture: dict[str, dict],
           fetched: LeadsFetched, previous: dict[str, dict], day: date) -> None:
    """The picture for the next sync, and the mark (never the machine's clock)."""
    write_records(cur, key, picture)
    mark = max(filter(None, (None if fetched.full else
                             _mark(cur, key), fetched.high_water)), default=None)
    cur.execute("""insert or replace into crm_sync (source, high_water, columns, as_of,
                   full_read, records_read, changed, deleted, opportunities)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [key, mark, fetched.columns, day, fetched.full, len(fetched.records),
                 sum(previous.get(r["lead_id"]) != r for r in fetched.records),
                 len(fetched.deleted), len(picture)])


def _mark(cur: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = cur.execute("select high_water from crm_sync where source = ?", [key]).fetchall()
    return row[0][0] if row else None
