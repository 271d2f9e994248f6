"""`python -m sales access grant | revoke | list`: the first analyst, and access managed from a
terminal. Writes go through the same lock-and-swap as imports, so they work while the app runs,
and onto the audit trail as the operating-system user's."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sales import access
from sales.audit import command_line_user
from sales.db import DatabaseBusy, db_path, open_current, write_state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="access_action", required=True)
    grant = actions.add_parser("grant", help="give (or change) someone's role and scope")
    grant.add_argument("email")
    grant.add_argument("--role", required=True, choices=access.ROLES)
    for field, dimension in access.SCOPE_DIMENSIONS.items():
        grant.add_argument(f"--{dimension}", dest=field, action="extend", nargs="+", default=[],
                           metavar="V", help=f"limit the scope to these {field} (repeatable)")
    revoke = actions.add_parser("revoke", help="take someone's access away")
    revoke.add_argument("email")
    listing = actions.add_parser("list", help="who has access")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    for sub in (grant, revoke, listing):
        sub.add_argument("--db", type=Path, default=None,
                         help="database file (default: $SALES_DB or data/forecast.duckdb)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 done, 1 refused (nothing changed; the reason on stderr), 3 the file stayed busy."""
    path = args.db or db_path()
    if not Path(path).exists():
        print(f"error: no database at {path}", file=sys.stderr)
        return 2
    if args.access_action == "list":
        return _list(path, args.format)
    by = command_line_user()
    try:
        if args.access_action == "grant":
            made = write_state(path, lambda cur: access.grant(
                cur, args.email, args.role, tuple(args.teams), tuple(args.regions),
                tuple(args.owners), by=by))
            print(f"{made.email}: {made.describe()}")
        elif not write_state(path, lambda cur: access.revoke(cur, args.email, by=by)):
            print(f"error: {args.email} has no access to revoke", file=sys.stderr)
            return 1
        else:
            print(f"{args.email.strip().lower()}: access revoked")
    except access.AccessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except DatabaseBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    return 0


def _list(path: Path, output: str) -> int:
    con = open_current(path)
    frame = access.grants(con)
    con.close()
    if output == "json":
        frame["granted_at"] = frame["granted_at"].astype(str)
        print(json.dumps(frame.to_dict("records"), indent=2))
    elif frame.empty:
        print("No one has access yet.")
    else:
        print(frame.to_string(index=False))
    return 0
