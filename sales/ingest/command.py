"""`python -m sales import FILE... [--db PATH] [--as-of DATE] [--mapping FILE.toml] [--kind K]
[--skip-invalid] [--rejects DIR]`: the command line's import, with a progress bar and a report.

Exit status: 0 imported; 1 rejected (a report on stderr says what to fix; the database is
unchanged); 2 a usage problem (a missing file, a bad mapping file); 3 the database stayed busy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sales.audit import command_line_user
from sales.currency import CurrencyError
from sales.db import DatabaseBusy, db_path
from sales.exits import EXIT_BUSY, EXIT_REFUSED, EXIT_USAGE
from sales.ingest.headers import MAIN_KINDS
from sales.ingest.mapping import MappingError, load_mapping
from sales.ingest.readers import ReadError, read_path
from sales.ingest.rejects import rejects_path, write_rejects
from sales.ingest.run import ImportRejected, ImportRequest, Plan, run_import
from sales.ingest.validate import render
from sales.progress import ProgressBar


def add_arguments(parser: argparse.ArgumentParser, date_type) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="CSV or XLSX: an opportunity export (with its accounts and owners "
                             "files), a Salesforce OpportunityHistory, targets, submissions or "
                             "a leads export")
    parser.add_argument("--db", type=Path, default=None,
                        help="database file (default: $SALES_DB or data/forecast.duckdb); "
                             "created if missing")
    parser.add_argument("--as-of", type=date_type, default=None,
                        help="the export's date: its snapshot is recorded (or replaced) on this "
                             "day (default today)")
    parser.add_argument("--mapping", type=Path, default=None, metavar="FILE.toml",
                        help="header names, stages and enrichment files the aliases do not cover")
    parser.add_argument("--kind", choices=MAIN_KINDS, default=None,
                        help="what the files hold (default: recognised from the headers)")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="import the valid rows and write the rejected ones, with reasons, "
                             "to FILE.rejected.csv")
    parser.add_argument("--rejects", type=Path, default=None, metavar="DIR",
                        help="folder for the rejected rows (default: the database's folder)")


def run(args: argparse.Namespace) -> int:
    path = Path(args.db or db_path())
    bar = ProgressBar()
    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        sources = []
        for index, file in enumerate(args.files):
            bar(0.1 * index / len(args.files), f"Reading {file.name}")
            sources.append(read_path(file))
    except (MappingError, ReadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    request = ImportRequest(sources, mapping, args.kind, args.as_of, args.skip_invalid,
                            actor=command_line_user())
    folder = args.rejects or path.resolve().parent
    try:
        result = run_import(path, request, progress=bar)
    except (ImportRejected, DatabaseBusy) as error:
        return print_refusal(error, path)
    except CurrencyError as error:
        print(f"error: {error} ({path} is unchanged)", file=sys.stderr)
        return EXIT_REFUSED
    for line in result.plan.summary():
        print(line)
    if result.warnings:
        print("\nWarnings (imported; listed on the Data › Import page's data-quality panel):")
        print(_indent(render(result.warnings)))
    skipped = result.plan.findings.errors
    if skipped:
        print("\nRejected rows (left out with --skip-invalid):")
        print(_indent(render(skipped)))
        for name, frame in result.plan.rejected.items():
            written = write_rejects(frame, rejects_path(folder, name))
            print(f"  {len(frame):,} rejected row(s) of {name} with their reasons: {written}")
    print()
    for line in result.done:
        print(line)
    print(f"Imported into {path} (data version {result.data_version}).")
    return 0


def print_refusal(error: ImportRejected | DatabaseBusy, path: Path) -> int:
    """Say on stderr why nothing was written (the checks' findings, or the busy database) and
    return the exit status for it (the import's and the sync's)."""
    if isinstance(error, ImportRejected):
        print_rejection(error.plan, path)
        return EXIT_REFUSED
    print(f"error: {error}", file=sys.stderr)
    return EXIT_BUSY


def print_rejection(plan: Plan, path: Path) -> None:
    err = sys.stderr
    for line in plan.summary():
        print(line, file=err)
    print(file=err)
    print(render(plan.findings.errors), file=err)
    if plan.stage_suggestions:
        print("\nTo map the unknown stages, add these lines to the mapping file (check the "
              "category and flags of each) and pass it with --mapping:\n\n[stages]", file=err)
        for line in plan.stage_suggestions:
            print(line, file=err)
    if plan.findings.warnings:
        print("\nAlso worth knowing:", file=err)
        print(render(plan.findings.warnings), file=err)
    rows = sum(len(f) for f in plan.rejected.values())
    hint = (f" ({rows:,} row(s) failed; --skip-invalid imports the rest and writes these rows "
            "to a file)" if rows and not plan.request.skip_invalid and
            not plan.findings.file_level_errors() else "")
    print(f"\nNothing was imported: {path} is unchanged{hint}.", file=err)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
