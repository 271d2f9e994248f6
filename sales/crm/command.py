"""`python -m sales sync salesforce|hubspot [--db PATH] [--as-of DATE] [--mapping FILE.toml]
[--full]`: read the CRM and record today's picture, with progress on stderr.

Exit status as the import's: 0 synced; 1 the CRM refused (credentials, permissions, limits) or
the picture failed the import's checks — the database is unchanged; 2 a bad command line,
mapping file or missing credentials; 3 the database stayed busy.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from sales.audit import command_line_user
from sales.crm.sync import SyncError, run_sync
from sales.db import DatabaseBusy, db_path
from sales.exits import EXIT_USAGE
from sales.ingest.mapping import MappingError, load_mapping
from sales.ingest.run import ImportRejected
from sales.progress import ProgressBar

CRMS = ("salesforce", "hubspot")


def add_arguments(parser: argparse.ArgumentParser, date_type) -> None:
    parser.add_argument("crm", choices=CRMS, help="the CRM to read")
    parser.add_argument("--db", type=Path, default=None,
                        help="database file (default: $SALES_DB or data/forecast.duckdb); "
                             "created if missing")
    parser.add_argument("--as-of", type=date_type, default=None,
                        help="record the org's picture as the snapshot of this day (default "
                             "today)")
    parser.add_argument("--mapping", type=Path, default=None, metavar="FILE.toml",
                        help="[columns] naming CRM fields for region, channel, loss reason, "
                             "…; [stages], [categories], [loss_reasons], [types] as for import")
    parser.add_argument("--full", action="store_true",
                        help="re-read every record instead of those changed since the last "
                             "sync")
    parser.add_argument("--bulk", action="store_true",
                        help="Salesforce: read the opportunities through a Bulk API 2.0 job "
                             "(orgs with millions of them) instead of REST pages")


def make_reader(crm: str, mapping, env=None, bulk: bool = False):
    """The signed-in reader of `crm` (credentials from `env`, default the environment)."""
    if crm == "salesforce":
        from sales.crm import salesforce

        return salesforce.reader(env, mapping, bulk)
    from sales.crm import hubspot

    return hubspot.reader(env, mapping)


def run(args: argparse.Namespace, env=None) -> int:
    path = Path(args.db or db_path())
    if getattr(args, "bulk", False) and args.crm != "salesforce":
        print("error: --bulk reads Salesforce through the Bulk API 2.0; HubSpot has no such "
              "option", file=sys.stderr)
        return EXIT_USAGE
    bar = ProgressBar()
    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        bar(0.0, f"Signing in to {args.crm}")
        reader = make_reader(args.crm, mapping, os.environ if env is None else env,
                             bulk=getattr(args, "bulk", False))
        outcome = run_sync(path, reader, args.as_of, mapping, args.full,
                           actor=command_line_user(), progress=bar)
    except MappingError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SyncError as error:
        print(f"error: {error} ({path} is unchanged)", file=sys.stderr)
        return error.status
    except (ImportRejected, DatabaseBusy) as error:
        from sales.ingest.command import print_refusal

        return print_refusal(error, path)
    for line in outcome.lines():
        print(line)
    if outcome.result.warnings:
        from sales.ingest.validate import render

        print("\nWarnings (synced; listed on the Data › Import page's data-quality panel):")
        print("\n".join("  " + line for line in render(outcome.result.warnings).splitlines()))
    print(f"Synced {args.crm} into {path} (data version {outcome.result.data_version}).")
    return 0


def schedule(crm: str, root: str, database: str, python: str = ".venv/bin/python",
             env_file: str = "/etc/sales-forecast/crm.env") -> dict[str, str]:
    """The exact lines to run a sync on a schedule: a crontab line, and a systemd service and
    timer. Credentials stay in `env_file` (mode 600), never on the command line."""
    command = (f"{python} -m sales sync {crm} --db {shlex.quote(database)}")
    cron = (f"30 6 * * * cd {shlex.quote(root)} && set -a && . {shlex.quote(env_file)} && "
            f"set +a && {command} >> sync-{crm}.log 2>&1")
    service = "\n".join([
        "[Unit]", f"Description=Sales forecast: sync {crm}", "",
        "[Service]", "Type=oneshot", f"WorkingDirectory={root}",
        f"EnvironmentFile={env_file}", f"ExecStart={root}/{python} -m sales sync {crm} "
        f"--db {database}"])
    timer = "\n".join([
        "[Unit]", f"Description=Sales forecast: sync {crm} every morning", "",
        "[Timer]", "OnCalendar=*-*-* 06:30", "Persistent=true", "",
        "[Install]", "WantedBy=timers.target"])
    return {"cron": cron, "service": service, "timer": timer}
