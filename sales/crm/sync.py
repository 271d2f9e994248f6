"""The sync engine every CRM shares: previous picture + what changed = today's full picture,
recorded through the import's validated, all-or-nothing path.

A CRM reader (`sales.crm.salesforce`, `sales.crm.hubspot`) turns the org's records into the
import's canonical columns (text, as an export would hold them) and says which were deleted
and the latest last-modified time it saw. Here:

1. the previous sync's state is read (its high-water mark, the fields it read) — a sync is
   incremental when the database has the picture of an earlier sync that read the same fields;
2. the reader fetches (outside the lock: network time must not block the app's writes);
3. under the import lock, on a copy of the file (`sales.db.swap_in`): the stored picture
   (`crm_records`) with the changes merged in and the deletions taken out becomes an
   opportunity export, checked and written by `sales.ingest.run.import_into` exactly as a
   file import is (an unknown stage stops the sync with the import's message), followed on a
   first sync by the history the reader rebuilt; then the picture, the new high-water mark and
   the audit line are written in the same transaction. A failure or a kill at any point leaves
   the file as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import duckdb
import pandas as pd

from sales import audit, layout
from sales.crm.leads import LEADS_SUFFIX, LeadsFetched, record_leads
from sales.crm.records import stored_records, write_records
from sales.crm.users import CrmUser, record_owners, record_users
from sales.currency import CurrencyError, RateTable, store_rates
from sales.db import open_current, swap_in
from sales.exits import EXIT_REFUSED
from sales.ingest.leads import LeadRowsRejected
from sales.ingest.mapping import Mapping
from sales.ingest.opportunities import set_crm_probabilities
from sales.ingest.readers import Source
from sales.ingest.run import ImportRequest, Result, import_into
from sales.settings import save_setting

Progress = Callable[[float, str], None]
# Share of the progress bar spent reading the CRM; the rest is the check and write.
_FETCH_SHARE = 0.6
# The history rebuilt on a first sync: one snapshot a week, ending at the sync's as-of date.
BACKFILL_STEP_DAYS = 7
# The canonical text columns a picture row holds (the import's opportunity columns).
# Fields of a picture row that start with this are the reader's links (a deal's company id,
# its owner's id): stored with the picture for the next sync, never imported.
LINK = "_"
HISTORY_COLUMNS = ("opportunity_id", "changed_at", "row_id", "stage", "forecast_category",
                   "amount", "close_date", "owner", "currency")


class SyncError(Exception):
    """A sync that could not be done; the message is one line naming what to fix and never
    holds a credential. Nothing was written."""

    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Fetched:
    """What a reader brought back from the CRM.

    `records`: the changed (or, `full`, all) live records as canonical text columns;
    `deleted`: ids deleted since the mark; `high_water`: the latest last-modified time seen
    (None: nothing was read, keep the old mark); `columns`: the fields read, so a sync reading
    other fields re-reads everything; `history`: a first sync's change log (HISTORY_COLUMNS,
    `changed_at` already the weekly snapshot date); `probabilities`: stage → the org's default
    probability (0..1)."""

    records: list[dict[str, str | None]]
    deleted: list[str]
    high_water: str | None
    full: bool
    columns: str
    read: int = 0
    history: list[dict[str, str | None]] | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # A multi-currency org's rate table and corporate currency (None: one currency).
    rates: RateTable | None = None
    corporate: str | None = None
    # The CRM's leads and users (None: not read, or not readable by this user).
    leads: LeadsFetched | None = None
    users: list[CrmUser] | None = None
    # True: the CRM has no managers (HubSpot owners); the hierarchy keeps the ones it has.
    owners_only: bool = False
    # Incremental reads: the stored records that changed through a related record (a company,
    # an owner), worked out from the previous picture inside the write (no network there).
    refresh: Callable[[dict[str, dict]], list[dict]] | None = None


class Reader(Protocol):
    """One CRM: its key (`salesforce`), its name for people, and how to read it."""

    source: str
    label: str

    def fetch(self, since: str | None, backfill: bool, as_of: date,
              progress: Progress) -> Fetched: ...


@dataclass(frozen=True)
class PreviousSync:
    """What the database remembers of a CRM's last sync (nothing when there was none)."""

    high_water: str | None = None
    columns: str = ""
    has_picture: bool = False
    empty_database: bool = True


@dataclass
class SyncResult:
    """A sync done: the import's result, and the sync's own figures."""

    result: Result
    as_of: date
    full: bool
    read: int
    changed: int
    deleted: int
    opportunities: int
    seconds: float
    backfilled: bool
    notes: list[str]

    def lines(self) -> list[str]:
        kind = "full read" if self.full else "incremental"
        lines = [f"{self.read:,} record(s) read ({kind}): {self.changed:,} new or changed, "
                 f"{self.deleted:,} deleted; {self.opportunities:,} opportunities as of "
                 f"{self.as_of} ({self.seconds:.1f} s)"]
        lines += self.result.done
        lines += self.notes
        return lines


def previous_sync(path: str | Path, source: str) -> PreviousSync:
    """The last sync of `source` recorded in the database at `path` (read without the lock)."""
    if not Path(path).exists():
        return PreviousSync()
    con = open_current(path)
    try:
        return _previous(con, source)
    finally:
        con.close()


def _previous(con: duckdb.DuckDBPyConnection, source: str) -> PreviousSync:
    cur = con.cursor()
    empty = cur.execute("select count(*) from snapshot_dates").fetchall()[0][0] == 0 and \
        cur.execute("select count(*) from opportunities").fetchall()[0][0] == 0
    row = cur.execute("select high_water, columns from crm_sync where source = ?",
                      [source]).fetchall()
    pictured = cur.execute("select count(*) from crm_records where source = ?",
                           [source]).fetchall()[0][0] > 0
    if not row:
        return PreviousSync(empty_database=empty)
    return PreviousSync(row[0][0], row[0][1], pictured, empty)


def run_sync(path: str | Path, reader: Reader, as_of: date | None = None,
             mapping: Mapping | None = None, full: bool = False, actor: str = "",
             progress: Progress | None = None) -> SyncResult:
    """Read the CRM and record its full picture at `as_of` (default today) as that day's
    snapshot; raises SyncError or ImportRejected (file untouched) when it cannot."""
    report = progress or (lambda fraction, message: None)
    day = as_of or date.today()
    started = datetime.now().replace(microsecond=0)
    clock = time.monotonic()
    before = previous_sync(path, reader.source)
    incremental = (not full and before.has_picture and before.high_water is not None)
    leads_before = previous_sync(path, reader.source + LEADS_SUFFIX)
    if hasattr(reader, "leads_since"):
        reader.leads_since = (leads_before.high_water if not full and leads_before.has_picture
                              else None)
    fetched = reader.fetch(before.high_water if incremental else None,
                           before.empty_database, day,
                           lambda f, m: report(_FETCH_SHARE * f, m))
    if not fetched.full and fetched.columns != before.columns:
        # The reader reads other fields than last time (the mapping changed): the stored
        # picture lacks them, so read everything again.
        fetched = reader.fetch(None, before.empty_database, day,
                               lambda f, m: report(_FETCH_SHARE * f, m))

    def build(cur: duckdb.DuckDBPyConnection) -> SyncResult:
        previous = stored_records(cur, reader.source)
        picture, changed_ids, gone_ids = merge(previous, fetched)
        changed, deleted = len(changed_ids), len(gone_ids)
        if not picture:
            raise SyncError(f"{reader.label} has no opportunities to record (an empty picture "
                            "would remove every deal); nothing was changed")
        corporate = _record_rates(cur, fetched, day)
        request = ImportRequest(_sources(reader.label, picture, fetched.history),
                                _import_mapping(mapping), None, day,
                                actor=actor or audit.command_line_user(),
                                rates=fetched.rates, corporate=corporate)
        try:
            result = import_into(cur, request,
                                 lambda f, m: report(_FETCH_SHARE + (1 - _FETCH_SHARE) * f, m))
        except CurrencyError as error:  # a history amount in a currency without a rate
            raise SyncError(str(error)) from None
        seconds = time.monotonic() - clock
        outcome = SyncResult(result, day, fetched.full, fetched.read, changed, deleted,
                             len(picture), seconds, fetched.history is not None,
                             list(fetched.notes))
        _store(cur, reader.source, picture, changed_ids + gone_ids, fetched, before, outcome,
               started)
        _people(cur, reader, fetched, day, request.actor, outcome)
        audit.record(cur, request.actor, audit.SYNC,
                     f"{reader.label} sync ({'full' if fetched.full else 'incremental'}): "
                     f"{fetched.read:,} read, {changed:,} new or changed, {deleted:,} deleted; "
                     f"{len(picture):,} deals as of {day}"
                     + ("; history rebuilt weekly" if fetched.history is not None else ""))
        report(0.97, "Saving")
        return outcome

    outcome = swap_in(path, build, progress=lambda f, m: report(_FETCH_SHARE, m),
                      after=lambda con: layout.settle(con, lambda m: report(0.98, m)))
    report(1.0, "Synced")
    return outcome


def _people(cur: duckdb.DuckDBPyConnection, reader: Reader, fetched: Fetched, day: date,
            actor: str, outcome: SyncResult) -> None:
    """The CRM's leads into the lead pipeline and its users into the hierarchy (same write)."""
    if fetched.leads is not None:
        try:
            outcome.notes += record_leads(cur, fetched.leads, reader.source, reader.label, day,
                                          actor)
        except LeadRowsRejected as error:
            raise SyncError(f"{reader.label}'s leads failed the lead import's checks: "
                            f"{str(error).splitlines()[0]}; nothing was changed") from None
    if fetched.users is not None:
        record = record_owners if fetched.owners_only else record_users
        outcome.notes.append(record(cur, fetched.users, reader.label, day, actor))


def _record_rates(cur: duckdb.DuckDBPyConnection, fetched: Fetched, day: date) -> str | None:
    """The org's rates as the table from `day` (the deals of this sync convert at them), and
    its corporate currency as the setting when nobody has set one; returns the corporate
    currency the sync converts into (None: the org has one currency)."""
    if fetched.rates is None:
        return None
    stored = cur.execute("select value from settings where name = 'corporate_currency'"
                         ).fetchall()
    if fetched.corporate and not stored:
        save_setting(cur, "corporate_currency", fetched.corporate)
    try:
        store_rates(cur, fetched.rates, day)
    except CurrencyError as error:
        raise SyncError(f"the CRM's rates cannot be used: {error}; nothing was changed"
                        ) from None
    return stored[0][0] if stored else fetched.corporate


def merge(previous: dict[str, dict], fetched: Fetched
          ) -> tuple[dict[str, dict], list[str], list[str]]:
    """The new picture (id → fields), the ids new or changed, and the ids gone from it."""
    picture = {} if fetched.full else dict(previous)
    changed: list[str] = []
    seen: set[str] = set()
    related = fetched.refresh(previous) if fetched.refresh and not fetched.full else []
    for record in [*related, *fetched.records]:  # the deal's own read wins
        key = record["opportunity_id"]
        if previous.get(key) != record and key not in seen:
            changed.append(key)
            seen.add(key)
        picture[key] = record
    for key in fetched.deleted:
        picture.pop(key, None)
    gone = [key for key in previous if key not in picture]
    return picture, changed, gone


def _sources(label: str, picture: dict[str, dict],
             history: list[dict] | None) -> list[Source]:
    """The picture as an opportunity export (and a first sync's history as a history export):
    text columns under the import's canonical names, in the order the rows were read."""
    columns = ["opportunity_id", *sorted({c for r in picture.values() for c in r
                                          if not c.startswith(LINK)} - {"opportunity_id"})]
    frame = pd.DataFrame(list(picture.values()), columns=columns, dtype=str)
    sources = [Source(f"{label} opportunities", frame)]
    if history:
        # Each row's changed_at is already its weekly snapshot date; within a date the last
        # row wins (the import orders a day's changes by time, then by row), so the reader
        # hands them over oldest first and without the CRM's own row ids.
        log = pd.DataFrame(history, columns=list(HISTORY_COLUMNS), dtype=str)
        sources.append(Source(f"{label} opportunity history", log.drop(columns="row_id")))
    return sources


def _import_mapping(mapping: Mapping | None) -> Mapping:
    """The mapping as the import reads the sync's picture: its stages, categories, loss reasons
    and types; columns already under canonical names, numbers and dates as the API gives them."""
    base = mapping or Mapping(name="sync")
    return replace(base, columns=(), accounts=None, owners=None, decimal=".", date_format=None)


def _store(cur: duckdb.DuckDBPyConnection, source: str, picture: dict[str, dict],
           touched: list[str], fetched: Fetched, before: PreviousSync, outcome: SyncResult,
           started: datetime) -> None:
    """The picture for the next sync to merge into (only the records that changed are
    rewritten: 1% of 100,000 deals took 2 s to store whole), the mark and the figures."""
    write_records(cur, source, picture, None if fetched.full else touched)
    mark = max(filter(None, (before.high_water if not fetched.full else None,
                             fetched.high_water)), default=None)
    cur.execute("insert or replace into crm_sync values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [source, mark, fetched.columns, outcome.as_of, started,
                 started + timedelta(seconds=outcome.seconds), round(outcome.seconds, 3),
                 fetched.full, fetched.read, outcome.changed, outcome.deleted,
                 outcome.opportunities])
    if fetched.probabilities:
        cur.execute("delete from crm_stages where source = ?", [source])
        cur.executemany("insert into crm_stages values (?, ?, ?)",
                        [[source, stage, p] for stage, p in fetched.probabilities.items()])
        # The stage-weighted forecast reads the CRM's own probabilities (percent), unless an
        # analyst set the stage's (sales.backtest).
        set_crm_probabilities(cur, {stage: round(p * 100, 4)
                                    for stage, p in fetched.probabilities.items()})


def last_syncs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every CRM's last sync. Grain: one row per CRM. Columns: source, as_of, started_at,
    finished_at, seconds, full_read, records_read, changed, deleted, opportunities."""
    return con.cursor().execute(
        """select source, as_of, started_at, finished_at, seconds, full_read, records_read,
                  changed, deleted, opportunities
           from crm_sync order by finished_at desc""").df()


def weekly_day(changed: date, as_of: date) -> date | None:
    """The weekly snapshot (as-of, as-of − 7 days, …) that first shows a change made on
    `changed`; None for a change after as-of."""
    if changed > as_of:
        return None
    weeks = (as_of - changed).days // BACKFILL_STEP_DAYS
    return as_of - timedelta(days=BACKFILL_STEP_DAYS * weeks)


def stage_probabilities(con: duckdb.DuckDBPyConnection,
                        source: str | None = None) -> dict[str, float]:
    """Stage → the default probability (0..1) the CRM reports for it, as the last sync of
    `source` (default: every CRM synced, the latest sync winning a stage both name) read it:
    Salesforce OpportunityStage.DefaultProbability, HubSpot's pipeline stage metadata."""
    rows = con.cursor().execute(
        """select s.stage, s.probability from crm_stages s
           left join crm_sync c using (source)
           where $source is null or s.source = $source
           order by c.finished_at nulls first""", {"source": source}).fetchall()
    return {stage: probability for stage, probability in rows}
