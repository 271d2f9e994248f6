"""One import from files to database: recognise each file, check everything, then write it all
in one transaction on a copy that is swapped into place (`sales.db.swap_in`).

Nothing is written unless every check passes (or, with `skip_invalid`, every file is usable
and the failing rows are set aside); a rejected import leaves the database file untouched.
Importing the same files twice gives the same content (the data version still moves on, so
open sessions re-read; skipping the swap when nothing changed would need a full comparison of
a copy we have already paid for).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sales import audit, layout
from sales.currency import RateTable
from sales.db import data_version, swap_in
from sales.ingest import history, leads, opportunities, plans, rates, users
from sales.ingest.formats import replaced_bytes
from sales.ingest.headers import (
    ACCOUNTS,
    CURRENCY_RATES,
    HIERARCHY,
    HISTORY,
    KINDS,
    LEADS,
    MAIN_KINDS,
    OPPORTUNITIES,
    OWNERS,
    SUBMISSIONS,
    TARGETS,
    detect_kind,
)
from sales.ingest.mapping import Mapping
from sales.ingest.readers import ReadError, Source, read_path
from sales.ingest.reference import Reference, load_reference
from sales.ingest.rejects import rejected_rows
from sales.ingest.validate import ERROR, WARNING, Finding, Findings

Progress = Callable[[float, str], None]
# Rates first: the deals of the same import convert at them.
_ORDER = {CURRENCY_RATES: -1, OPPORTUNITIES: 0, HISTORY: 1, TARGETS: 2, HIERARCHY: 3,
          SUBMISSIONS: 4, LEADS: 5}


class ImportRejected(Exception):
    """The files did not pass the checks; `plan` holds every finding. Nothing was written."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(f"{len(plan.findings.errors)} problem(s) found; nothing was imported")
        self.plan = plan


@dataclass
class ImportRequest:
    """What to import: files already read, an optional mapping, and the options."""

    sources: list[Source]
    mapping: Mapping | None = None
    kind: str | None = None
    as_of: date | None = None
    skip_invalid: bool = False
    # Whether a mapping's accounts/owners file may be looked for on disk. False for uploads: a
    # mapping file sent through the browser must not make the server read its own files.
    local_files: bool = True
    # Whom the import is attributed to on the audit trail (default: the operating-system user
    # at the command line).
    actor: str = ""
    # A CRM sync's rate table and corporate currency (docs/data-model.md#currencies), written
    # in the same transaction: the checks convert at these rather than at the stored ones.
    rates: RateTable | None = None
    corporate: str | None = None

    @property
    def day(self) -> date:
        return self.as_of or date.today()


@dataclass
class FilePlan:
    """One file: its kind, the columns used, and its prepared rows (None when unusable)."""

    source: Source
    kind: str
    prepared: object | None = None

    @property
    def name(self) -> str:
        return self.source.name


@dataclass
class Plan:
    request: ImportRequest
    files: list[FilePlan]
    findings: Findings
    rejected: dict[str, pd.DataFrame] = field(default_factory=dict)
    stage_suggestions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Can be written: no errors, or with skip_invalid only row errors and rows left."""
        if not self.findings.errors:
            return bool(self.main_files)
        if not self.request.skip_invalid or self.findings.file_level_errors():
            return False
        return any(len(f.prepared.frame) for f in self.main_files)

    @property
    def main_files(self) -> list[FilePlan]:
        return sorted((f for f in self.files if f.kind in MAIN_KINDS and f.prepared is not None),
                      key=lambda f: _ORDER[f.kind])

    def summary(self) -> list[str]:
        """One line per file: what it is, how many rows, which columns were used or ignored."""
        lines = []
        for f in self.files:
            rows = len(f.source.frame)
            line = f"{f.name}: {f.kind}, {rows:,} row{'s' if rows != 1 else ''}"
            prepared = f.prepared
            if prepared is not None and hasattr(prepared, "columns"):
                used = ", ".join(f"{h} → {c}" for c, h in prepared.columns.items())
                line += f"; columns {used}"
                if prepared.ignored:
                    line += f"; not used: {', '.join(prepared.ignored)}"
            for note in f.source.notes:
                line += f"; {note}"
            lines.append(line)
            if getattr(prepared, "deleted", 0):
                lines.append(f"{f.name}: {prepared.deleted:,} deleted row(s) left out")
        for f in self.files:
            for joined in getattr(f.prepared, "joins", []):
                lines.append(f"{joined.file} joined to {f.name} on {joined.export_key} = "
                             f"{joined.file_key}: {joined.matched:,} of {joined.deals:,} deals "
                             f"matched; filled {', '.join(joined.columns) or 'nothing'}")
        return lines


def resolve_enrichment(request: ImportRequest) -> tuple[list[Source], Findings]:
    """The accounts and owners files a mapping names but the user did not pass: looked for
    beside the export, then beside the mapping file, then in the working directory."""
    findings = Findings()
    mapping = request.mapping
    sources = list(request.sources)
    if mapping is None:
        return sources, findings
    given = {Path(s.name).name for s in sources}
    if not request.local_files:
        for kind in (ACCOUNTS, OWNERS):
            spec = getattr(mapping, kind)
            if spec is not None and Path(spec.file).name not in given:
                findings.add(ERROR, "enrichment_missing", mapping.name, None,
                             f"the mapping's [{kind}] file {spec.file} was not uploaded",
                             f"upload {Path(spec.file).name} together with the export")
        return sources, findings
    folders = [Path(s.path).parent for s in sources if s.path]
    folders += [Path(mapping.folder)] if mapping.folder else []
    folders.append(Path.cwd())
    for kind in (ACCOUNTS, OWNERS):
        spec = getattr(mapping, kind)
        if spec is None or Path(spec.file).name in given:
            continue
        candidates = [Path(spec.file)] if Path(spec.file).is_absolute() else [
            folder / spec.file for folder in folders]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            where = ", ".join(str(c.parent) for c in candidates)
            findings.add(ERROR, "enrichment_missing", mapping.name, None,
                         f"the [{kind}] file {spec.file} was not given and is not in {where}",
                         f"pass {spec.file} along with the export (or upload it with it)")
            continue
        try:
            sources.append(read_path(found))
        except ReadError as error:
            findings.add(ERROR, "unreadable", spec.file, None, str(error),
                         "save it as UTF-8 CSV or XLSX")
    return sources, findings


def classify(sources: list[Source], mapping: Mapping | None, kind: str | None,
             findings: Findings) -> list[FilePlan]:
    """Each file's kind: named by the mapping as its accounts/owners file, else --kind for the
    main files, else recognised from the headers."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(MAIN_KINDS)}")
    named = {}
    if mapping is not None:
        for role in (ACCOUNTS, OWNERS):
            spec = getattr(mapping, role)
            if spec is not None:
                named[Path(spec.file).name] = role
    columns = mapping.column_map if mapping else None
    lead_columns = mapping.lead_column_map if mapping else None
    files = []
    for source in sources:
        detected = named.get(Path(source.name).name) or detect_kind(source.headers, columns,
                                                                    lead_columns)
        if kind is not None and detected not in (ACCOUNTS, OWNERS):
            detected = kind
        if detected is None:
            findings.add(ERROR, "unknown_kind", source.name, None,
                         "cannot tell what this file holds from its headers ("
                         + ", ".join(source.headers[:12])
                         + (", …" if len(source.headers) > 12 else "") + ")",
                         "give --kind opportunities|history|targets|submissions|leads|hierarchy, name the "
                         "columns in a mapping file's [columns] (a leads file's in "
                         "[lead_columns]), or name it as the mapping's [accounts] or [owners] "
                         "file")
            continue
        files.append(FilePlan(source, detected))
    by_kind: dict[str, list[FilePlan]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f)
    for k, group in by_kind.items():
        if len(group) > 1 and k in (OPPORTUNITIES, ACCOUNTS, OWNERS, LEADS):
            findings.add(ERROR, "several_files", group[1].name, None,
                         f"more than one {k} file in one import ({', '.join(f.name for f in group)})",
                         "import one full export at a time, with at most one accounts and one "
                         "owners file")
    if (ACCOUNTS in by_kind or OWNERS in by_kind) and OPPORTUNITIES not in by_kind:
        extra = (by_kind.get(ACCOUNTS) or by_kind.get(OWNERS))[0]
        findings.add(ERROR, "enrichment_alone", extra.name, None,
                     f"an {extra.kind} file only adds columns to an opportunity export",
                     "import it together with the export it belongs to")
    return files


def plan(request: ImportRequest, reference: Reference) -> Plan:
    """Check every file against the database's reference data; writes nothing."""
    sources, findings = resolve_enrichment(request)
    for source in sources:
        replaced_bytes(source, findings)
    files = classify(sources, request.mapping, request.kind, findings)
    _mapping_differences(request.mapping, reference, findings)
    known = reference.with_mapping(request.mapping)
    extras = {f.kind: f.source for f in files if f.kind in (ACCOUNTS, OWNERS)}
    suggestions: list[str] = []
    for f in files:  # a rate file in the same import is the table its deals convert at
        if f.kind == CURRENCY_RATES:
            f.prepared = rates.prepare(f.source, request.mapping, findings)
            if f.prepared is not None:
                known = replace(known, rates=f.prepared.table)
    for f in files:
        if f.kind == OPPORTUNITIES:
            f.prepared = opportunities.prepare(f.source, known, request.mapping, request.day,
                                               findings, extras.get(ACCOUNTS), extras.get(OWNERS))
        elif f.kind == HISTORY:
            f.prepared = history.prepare(f.source, known, request.mapping, findings)
        elif f.kind == TARGETS:
            f.prepared = plans.prepare_targets(f.source, known, request.mapping, findings)
        elif f.kind == SUBMISSIONS:
            f.prepared = plans.prepare_submissions(f.source, known, request.mapping, findings)
        elif f.kind == LEADS:
            f.prepared = leads.prepare(f.source, known, request.mapping, findings)
        elif f.kind == HIERARCHY:
            f.prepared = users.prepare(f.source, request.mapping, findings)
        suggestions += getattr(f.prepared, "stage_suggestions", [])
    for f in files:
        if f.kind == HIERARCHY and f.prepared is not None:
            users.check_whole(f.prepared, findings)
        if f.kind in MAIN_KINDS and f.source.frame.empty:
            findings.add(ERROR, "no_rows", f.name, None, "the file has no rows to import",
                         "export again with the data; an empty full export would remove "
                         f"every {'lead' if f.kind == LEADS else 'deal'}")
    result = Plan(request, files, findings, stage_suggestions=list(dict.fromkeys(suggestions)))
    for f in files:
        frame = rejected_rows(f.source, findings)
        if len(frame):
            result.rejected[f.name] = frame
        if request.skip_invalid and f.prepared is not None and f.kind in MAIN_KINDS:
            rows = findings.rejected_rows(f.name)
            f.prepared.frame = f.prepared.frame.drop(
                index=[r for r in rows if r in f.prepared.frame.index])
    return result


def _mapping_differences(mapping: Mapping | None, reference: Reference,
                         findings: Findings) -> None:
    """A mapping stage the stage map already has with other flags: the app's map is kept (its
    edits survive every import), and the user is told."""
    if mapping is None:
        return
    stored = reference.stage_map
    for name, spec in mapping.stages:
        stage = stored.get(name)
        if stage is None:
            continue
        mine = (spec.category, spec.qualified, spec.closed, spec.won, spec.redlining)
        theirs = (stage.forecast_category, stage.qualified, stage.closed, stage.won,
                  stage.redlining)
        if mine != theirs:
            findings.add(WARNING, "mapping_stage_kept", mapping.name, None,
                         f'stage "{name}" is already in the stage map as {stage.forecast_category}'
                         f" (qualified={stage.qualified}, closed={stage.closed}, won={stage.won}); "
                         "the stage map was kept",
                         "if the mapping file is right, change the stage on the Data › Maps page")


def apply(con: duckdb.DuckDBPyConnection, plan: Plan,
          progress: Progress | None = None) -> list[str]:
    """Write a checked plan inside the caller's transaction; returns what was done, per file."""
    report = progress or (lambda fraction, message: None)
    request = plan.request
    _add_mapping_reference(con, request.mapping)
    done = []
    files = plan.main_files
    for index, f in enumerate(files):
        report(0.5 + 0.45 * index / len(files), f"Writing {f.name}")
        reference = _reference(con, request)
        frame = f.prepared.frame
        if f.kind == OPPORTUNITIES:
            what = opportunities.write(con, frame, request.day, reference)
            done.append(f"{f.name}: {len(frame):,} opportunities → {what}")
        elif f.kind == HISTORY:
            what = history.write(con, frame, request.as_of, reference)
            done.append(f"{f.name}: {len(frame):,} changes → {what}")
        elif f.kind == LEADS:
            what = leads.write(con, frame, request.day)
            done.append(f"{f.name}: {len(frame):,} leads → {what}")
        elif f.kind == CURRENCY_RATES:
            done.append(f"{f.name}: {rates.write(con, f.prepared, request.day)}")
        elif f.kind == HIERARCHY:
            by = request.actor or audit.command_line_user()
            done.append(f"{f.name}: {users.write(con, f.prepared, request.day, by)}")
        else:
            done.append(f"{f.name}: {plans.write(con, f.prepared)}")
    return done


def _reference(con: duckdb.DuckDBPyConnection, request: ImportRequest) -> Reference:
    """The database's reference data on the import's day, with a sync's own rates (a cursor
    does not see what the sync's transaction wrote)."""
    reference = load_reference(con, request.day)
    if request.rates is not None:
        reference = replace(reference, rates=request.rates)
    if request.corporate:
        reference = replace(reference, corporate=request.corporate)
    return reference


def _add_mapping_reference(con: duckdb.DuckDBPyConnection, mapping: Mapping | None) -> None:
    """The mapping's stages and loss reasons the database lacks (existing rows are kept)."""
    if mapping is None:
        return
    order = con.execute("select coalesce(max(sort_order), 0) from stage_map").fetchall()[0][0]
    for name, spec in mapping.stages:
        exists = con.execute("select count(*) from stage_map where stage = ?", [name]).fetchall()
        if exists[0][0]:
            continue
        order += 1
        con.execute("insert into stage_map (stage, sort_order, forecast_category, qualified, "
                    "closed, won, redlining) values (?, ?, ?, ?, ?, ?, ?)",
                    [name, order, spec.category, spec.qualified, spec.closed, spec.won,
                     spec.redlining])
    order = con.execute("select coalesce(max(sort_order), 0) from lead_status_map").fetchall()[0][0]
    for status, (group, accepted) in mapping.lead_statuses:
        order += 1
        con.execute("insert or ignore into lead_status_map values (?, ?, ?, ?)",
                    [status, order, group, accepted])
    for reason, loss_class in mapping.loss_reasons:
        con.execute("""insert into loss_reason_map
                       select ?, ? where lower(trim(?)) not in
                           (select lower(trim(lost_reason)) from loss_reason_map)""",
                    [reason, loss_class, reason])


@dataclass
class Result:
    plan: Plan
    done: list[str]
    data_version: int

    @property
    def warnings(self) -> list[Finding]:
        return self.plan.findings.warnings


def _lead_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select count(*) from leads").fetchall()[0][0]


def _deal_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select count(*) from opportunities").fetchall()[0][0]


def import_into(cur: duckdb.DuckDBPyConnection, request: ImportRequest,
                progress: Progress | None = None) -> Result:
    """Check `request` against the database `cur` writes to and apply it, inside the caller's
    transaction (the copy `swap_in` builds on); raises ImportRejected before writing anything
    when the checks fail. The one validated path every import and CRM sync goes through."""
    report = progress or (lambda fraction, message: None)
    report(0.2, "Checking the files against the database")
    checked = plan(request, _reference(cur, request))
    if not checked.ok:
        raise ImportRejected(checked)
    done = apply(cur, checked, report)
    return Result(checked, done, data_version(cur) + 1)  # write_transaction bumps it next


def run_import(path: str | os.PathLike, request: ImportRequest,
               progress: Progress | None = None) -> Result:
    """Check and import into the database at `path` (created if missing) by building on a copy
    and swapping it in; raises ImportRejected (file untouched) when the checks fail."""
    report = progress or (lambda fraction, message: None)

    def build(cur: duckdb.DuckDBPyConnection) -> Result:
        before, leads_before = _deal_count(cur), _lead_count(cur)
        result = import_into(cur, request, report)
        with_leads = any(f.kind == LEADS for f in result.plan.main_files)
        lead_change = f", {leads_before:,} → {_lead_count(cur):,} leads" if with_leads else ""
        audit.record(cur, request.actor or audit.command_line_user(), audit.IMPORT,
                     f"import of {', '.join(f.name for f in result.plan.main_files)}: "
                     f"{before:,} → {_deal_count(cur):,} deals{lead_change}, as of {request.day}")
        report(0.95, "Saving")
        return result

    # The default view's intermediates built once here, not in every app process's first render.
    result = swap_in(path, build, progress=lambda f, m: report(0.1, m),
                     after=lambda con: layout.settle(con, lambda m: report(0.97, m)))
    report(1.0, "Imported")
    return result
