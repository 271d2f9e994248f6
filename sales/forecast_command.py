"""`python -m sales forecast submit | history`: a person's forecast call from a terminal, and
the calls recorded (sales.people_calls). A call goes through the same lock-and-swap as imports,
so it works while the app runs, and onto the audit trail.

Exit status: 0 done; 1 refused (an unknown user, a negative amount, a period that ended before
`--at`, a `--by` outside the user's chain; nothing written); 2 a bad command line; 3 the
database stayed busy.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from sales.db import DatabaseBusy, db_path, open_current, write_state
from sales.exits import EXIT_BUSY, EXIT_REFUSED, EXIT_USAGE
from sales.people_calls import CallError, people_call_history, submit_call
from sales.periods import parse_period

HISTORY_FORMATS = ("table", "json", "csv")


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time like 2026-11-23T09:30 (or a date)") from None


def _label(text: str) -> str:
    try:
        parse_period(text)  # the label's shape; the fiscal year's start is the database's
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip().upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="forecast_action", required=True)
    submit = actions.add_parser("submit", help="record a person's call for a period")
    submit.add_argument("--as", dest="user", required=True, metavar="USER",
                        help="whose call it is (a user of the hierarchy)")
    submit.add_argument("--period", required=True, type=_label, help="e.g. FY2027-Q4")
    submit.add_argument("--forecast", required=True, type=float, metavar="X",
                        help="what they will close at least")
    submit.add_argument("--upside", type=float, default=0.0, metavar="Y",
                        help="the chance of this much more (default 0)")
    submit.add_argument("--note", default="", metavar="TEXT")
    submit.add_argument("--at", type=_moment, default=None, metavar="DATETIME",
                        help="when it was made, in the `timezone` setting (default now)")
    submit.add_argument("--by", default=None, metavar="USER",
                        help="who entered it: the user or someone above them (default the user)")
    history = actions.add_parser("history", help="the calls recorded, oldest first")
    history.add_argument("--period", type=_label, default=None)
    history.add_argument("--user", default=None)
    history.add_argument("--format", choices=HISTORY_FORMATS, default="table")
    for sub in (submit, history):
        sub.add_argument("--db", type=Path, default=None,
                         help="database file (default: $SALES_DB or data/forecast.duckdb)")


def run(args: argparse.Namespace) -> int:
    path = args.db or db_path()
    if not Path(path).exists():
        print(f"error: no database at {path}", file=sys.stderr)
        return EXIT_USAGE
    if args.forecast_action == "history":
        return _history(path, args.period, args.user, args.format)
    try:
        call = write_state(path, lambda cur: submit_call(
            cur, args.user, args.period, args.forecast, args.upside, args.note, args.at,
            args.by))
    except CallError as error:
        print(f"error: {error}; nothing was written", file=sys.stderr)
        return EXIT_REFUSED
    except DatabaseBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUSY
    entered = f", entered by {call.submitted_by}" if call.submitted_by != call.user else ""
    print(f"{call.user}'s call {call.call_id} for {call.period}: forecast {call.forecast:,.2f}, "
          f"upside {call.upside:,.2f}, at {call.submitted_at:%Y-%m-%d %H:%M}{entered}")
    return 0


def _history(path: Path, period: str | None, user: str | None, output: str) -> int:
    con = open_current(path)
    frame = people_call_history(con, period, user)
    con.close()
    frame["submitted_at"] = frame["submitted_at"].map(lambda t: t.isoformat())
    frame["deals"] = frame["deals"].map(list)
    if output == "json":
        sys.stdout.write(json.dumps(frame.to_dict("records"), indent=2) + "\n")
    elif output == "csv":
        from sales.export import csv_bytes

        frame["deals"] = frame["deals"].map(" ".join)
        sys.stdout.write(csv_bytes(frame).decode())
    elif frame.empty:
        print("No calls recorded yet.")
    else:
        print(frame.drop(columns=["deals"]).to_string(index=False))
    return 0
