"""A full leads export: check every row, then make it the current leads and their snapshot.

The same rules as an opportunity export: every check runs before anything is written, a bad
file changes nothing, and each full export records the lead snapshot of its as-of date
(replacing one taken that day; an earlier date only fills in history), so "where are the
period's MQLs now" compares with where they stood then.

`load_lead_rows` is the entry point for anything that already holds canonical rows (a CRM
sync reading Salesforce Lead or HubSpot contacts): it runs the same checks and the same write
inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from sales import audit
from sales.ingest.formats import read_dates
from sales.ingest.headers import LEADS, check_required, expected_headers, report_repeated, resolve
from sales.ingest.mapping import Mapping
from sales.ingest.readers import Source
from sales.ingest.reference import Reference, load_reference
from sales.ingest.validate import ERROR, WARNING, Findings, render
from sales.ingest.values import clean_text, fold_value, parse_whole_numbers
from sales.lead_snapshots import LEAD_STATE_COLUMNS, record_lead_snapshot
from sales.segments import fill_segments

# The leads table's columns, in its order.
TABLE_COLUMNS = ("lead_id", "created_date", "status", "mql_date", "accepted_date", "owner",
                 "lead_source", "account_employees", "segment", "region",
                 "converted_opportunity_id", "converted_date", "status_reason")
_DATES = ("created_date", "mql_date", "accepted_date", "converted_date")
_TEXT = ("lead_id", "status", "owner", "lead_source", "segment", "region",
         "converted_opportunity_id", "status_reason")
_DATE_FIX = "write dates as YYYY-MM-DD (or set date_format in the mapping file, e.g. \"%d/%m/%Y\")"


class LeadRowsRejected(ValueError):
    """Canonical lead rows that failed the checks; nothing was written."""

    def __init__(self, findings: Findings) -> None:
        super().__init__(render(findings.errors))
        self.findings = findings


@dataclass
class PreparedLeads:
    """A leads export checked and shaped as the leads table."""

    source: Source
    columns: dict[str, str]
    ignored: list[str]
    frame: pd.DataFrame
    stage_suggestions: tuple[str, ...] = ()


def prepare(source: Source, reference: Reference, mapping: Mapping | None,
            findings: Findings) -> PreparedLeads | None:
    """Check a leads export and shape it as the leads table; None when its columns are
    unusable (the findings say why)."""
    explicit = mapping.lead_column_map if mapping else None
    columns, ignored, missing = resolve(source.headers, LEADS, explicit)
    for line in missing:
        findings.add(ERROR, "mapping_header", source.name, None,
                     f"the mapping line [lead_columns] {line} names a header this file does "
                     "not have", f"use one of its headers: {', '.join(source.headers)}")
    found = check_required(source.name, LEADS, columns, findings,
                           'name it in a mapping file: [lead_columns] {canonical} = "Your header"')
    if missing or not found:
        return None
    report_repeated(source.name, source.headers, columns, explicit, findings, "lead_columns")
    raw = source.frame
    leads = pd.DataFrame(index=raw.index)
    for canonical in _TEXT:
        leads[canonical] = (clean_text(raw[columns[canonical]]) if canonical in columns
                            else pd.Series(pd.NA, index=raw.index, dtype="string"))
    _check_ids(source, columns, leads, findings)
    _check_statuses(source, columns, leads, reference, findings)
    for canonical in _DATES:
        if canonical in columns:
            header = columns[canonical]
            leads[canonical] = read_dates(source.name, header, raw[header], mapping, findings,
                                          _DATE_FIX)
        else:
            leads[canonical] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[s]")
    if "mql_date" not in columns:
        findings.add(WARNING, "no_mql_date", source.name, None,
                     "no MQL date column (looked for "
                     f"{expected_headers(LEADS, 'mql_date')}): the lead pipeline counts MQLs "
                     "by their MQL date, so none will be counted",
                     'name the field your CRM keeps it in: [lead_columns] mql_date = '
                     '"MQL_Date__c"')
    leads["account_employees"] = _employees(source, columns, findings)
    _check_conversions(source, columns, leads, findings)
    return PreparedLeads(source, columns, ignored, _shape(leads))


def _check_ids(source: Source, columns: dict[str, str], leads: pd.DataFrame,
               findings: Findings) -> None:
    ids, header = leads["lead_id"], columns["lead_id"]
    findings.add(ERROR, "missing_id", source.name, header, "the lead id is empty",
                 "every row needs the CRM's lead id; fill it in or delete the row",
                 ids.isna().to_numpy(), ids)
    findings.add(ERROR, "duplicate_id", source.name, header,
                 "the same lead id is on more than one row",
                 "a full export lists each lead once; remove the repeated rows",
                 (ids.duplicated(keep=False) & ids.notna()).to_numpy(), ids)


def _check_statuses(source: Source, columns: dict[str, str], leads: pd.DataFrame,
                    reference: Reference, findings: Findings) -> None:
    status, header = leads["status"], columns["status"]
    findings.add(ERROR, "missing_status", source.name, header, "the lead status is empty",
                 "every lead needs its CRM status", status.isna().to_numpy(), status)
    known = reference.lead_status_map
    unknown = status.notna() & ~status.isin(list(known))
    folded = {fold_value(s): s for s in known}
    for name in sorted(status[unknown].unique()):
        near = folded.get(fold_value(name))
        fix = (f'the lead status map has "{near}": fix the spelling in the file, or map this '
               "status too" if near else "map it to a group (open, qualified, recycled, junk, "
               "purchased) on the Data › Maps page (lead statuses) or in the mapping file")
        findings.add(ERROR, "unknown_status", source.name, header,
                     f'lead status "{name}" is not in the lead status map',
                     f'{fix}:\n[lead_statuses]\n"{name}" = "open"',
                     (status == name).fillna(False).to_numpy(dtype=bool), status)


def _employees(source: Source, columns: dict[str, str], findings: Findings) -> pd.Series:
    if "account_employees" not in columns:
        return pd.Series(pd.NA, index=source.frame.index, dtype="Int64")
    header = columns["account_employees"]
    numbers, bad = parse_whole_numbers(source.frame[header], None)
    findings.add(ERROR, "bad_employees", source.name, header, "not a whole number of employees",
                 "write a count such as 1200, or leave the cell empty", bad,
                 source.frame[header])
    return numbers


def _check_conversions(source: Source, columns: dict[str, str], leads: pd.DataFrame,
                       findings: Findings) -> None:
    converted = leads["converted_opportunity_id"].notna().to_numpy()
    header = columns.get("converted_opportunity_id") or columns["lead_id"]
    findings.add(WARNING, "converted_without_date", source.name, header,
                 "converted to an opportunity but without a converted date: left out of the "
                 "median days to convert", "export ConvertedDate with the leads",
                 converted & leads["converted_date"].isna().to_numpy(),
                 leads["converted_opportunity_id"])
    mql, created = leads["mql_date"], leads["created_date"]
    findings.add(WARNING, "mql_before_created", source.name, columns.get("mql_date"),
                 "MQL date before the lead was created", "check the MQL date field",
                 (mql < created).fillna(False).to_numpy(dtype=bool),
                 source.frame[columns["mql_date"]] if "mql_date" in columns else mql)


def _shape(leads: pd.DataFrame) -> pd.DataFrame:
    """The leads table's columns; segment from employees where the data has none."""
    frame = leads[list(TABLE_COLUMNS)].copy()
    frame["segment"] = fill_segments(frame["segment"], frame["account_employees"])
    return frame


_AS_TABLE_ROWS = """
    select lead_id, created_date::date, status, mql_date::date, accepted_date::date, owner,
           lead_source, account_employees::integer, segment, region, converted_opportunity_id,
           converted_date::date, status_reason
    from import_leads"""


def write(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, as_of: date) -> str:
    """Make `frame` (the leads table's columns) the leads as of `as_of` and record their
    snapshot; returns what was done. `leads` keeps every lead ever seen (as the latest export
    describing it had it); which exist at a date is the lead snapshot's to say."""
    latest = con.execute("select max(snapshot_date) from lead_snapshot_dates").fetchall()[0][0]
    con.register("import_leads", frame)
    try:
        if latest is not None and as_of < latest:
            added = con.execute(f"""insert into leads {_AS_TABLE_ROWS}
                                    where lead_id not in (select lead_id from leads)"""  # noqa: S608
                                ).fetchall()[0][0]
            record_lead_snapshot(con, as_of, frame[list(LEAD_STATE_COLUMNS)])
            kept = f"; {added:,} lead(s) not in later exports keep these fields" if added else ""
            return (f"recorded as the lead snapshot of {as_of} (history only: the current leads "
                    f"are the later snapshot of {latest}){kept}")
        con.execute(f"insert or replace into leads {_AS_TABLE_ROWS}")  # noqa: S608
    finally:
        con.unregister("import_leads")
    record_lead_snapshot(con, as_of, frame[list(LEAD_STATE_COLUMNS)])
    return f"the current leads and the lead snapshot of {as_of}"


def load_lead_rows(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of: date,
                   actor: str, source_name: str = "sync", reference: Reference | None = None,
                   audited: bool = True) -> str:
    """Check and write lead rows already in canonical columns (TABLE_COLUMNS, any subset with
    lead_id and status; values as text or as dates and numbers) as a full leads export of
    `as_of`, inside the caller's transaction: what a CRM sync calls (with the `reference` its
    transaction sees, and `audited` false for the weekly pictures a first sync rebuilds).
    Raises LeadRowsRejected (nothing written) when a check fails; returns what was done."""
    text = rows.reset_index(drop=True).astype(object).where(rows.notna().to_numpy(), None)
    text = text.map(lambda v: v.isoformat() if isinstance(v, date) else v)
    source = Source(source_name, text.astype("string"))
    findings = Findings()
    prepared = prepare(source, reference or load_reference(con), None, findings)
    if prepared is None or findings.errors:
        raise LeadRowsRejected(findings)
    before = con.execute("select count(*) from leads").fetchall()[0][0]
    done = write(con, prepared.frame, as_of)
    after = con.execute("select count(*) from leads").fetchall()[0][0]
    if audited:
        audit.record(con, actor, audit.IMPORT,
                     f"leads from {source_name}: {before:,} → {after:,} leads, as of {as_of}")
    return done
