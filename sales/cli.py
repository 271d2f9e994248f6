"""The command line: `python -m sales demo | report | board-pack | backtest | scores | bench |
import | sync | export | access | forecast | digest | alerts | reminders`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

import duckdb

from sales import formatting as fmt
from sales.currency import CurrencyError, show_in
from sales.db import db_path, open_current
from sales.exits import UsageError, iso_date
from sales.periods import QUARTER, Period, parse_period, period_containing
from sales.progress import ProgressBar
from sales.query import default_as_of
from sales.report import FORMATS, command_report, render
from sales.settings import load_settings
from sales.view import FILTER_DIMENSIONS, Filters, View

DEFAULT_DEMO_OPPORTUNITIES = 20_000




def _add_view_arguments(parser: argparse.ArgumentParser, period_help: str) -> None:
    """The database, period, as-of and filter options `report` and `export` share."""
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--period", default=None, help=period_help)
    parser.add_argument("--as-of", type=iso_date, default=None,
                        help="state as of this date (default: latest snapshot, else today)")
    for dimension in FILTER_DIMENSIONS:
        parser.add_argument(f"--{dimension}", action="extend", nargs="+", default=None,
                            metavar="V", help=f"only these {dimension} values (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sales", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build the demo database")
    demo.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB "
                      "or data/forecast.duckdb); replaced if it exists")
    demo.add_argument("--opportunities", type=int, default=DEFAULT_DEMO_OPPORTUNITIES)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--as-of", type=iso_date, default=None, help="last snapshot date (default today)")
    demo.add_argument("--fiscal-year-start", type=int, default=1, metavar="M",
                      help="fiscal year start month, 1-12 (default 1)")
    demo.add_argument("--company", choices=["standard", "unreliable"], default="standard",
                      help="the company's dynamics: standard, or unreliable (Commit "
                           "unreliable, pushed deals rarely close)")
    demo.add_argument("--history-quarters", type=int, default=6, metavar="N",
                      help="completed quarters of weekly snapshots before the current one "
                           "(default 6)")

    report = commands.add_parser("report", help="headline metrics for a period")
    _add_view_arguments(report, "FY2027-Q4 or FY2027-M10 (default: the quarter holding as-of)")
    report.add_argument("--window-start", type=iso_date, default=None,
                        help="rates window start (default: four completed quarters before)")
    report.add_argument("--window-end", type=iso_date, default=None)
    report.add_argument("--in-blood-defaults", action="store_true",
                        help="in-blood from the default rules even when a saved call exists")
    report.add_argument("--since", type=iso_date, default=None,
                        help="the last call the movement is measured from: the state as of "
                             "this date (default: the latest snapshot a week or more before "
                             "as-of)")
    report.add_argument("--history-periods", type=int, default=None, metavar="K",
                        help="completed periods the SMB forecast learns from (default: the "
                             "history_periods setting)")
    report.add_argument("--format", choices=FORMATS, default="json")
    report.add_argument("--currency", default=None, metavar="CODE",
                        help="report in this currency at the latest rate in force today "
                             "(default: the corporate currency)")

    pack = commands.add_parser("board-pack", help="the board pack for a period: HTML, PDF, "
                                                  "PNG per chart, XLSX")
    _add_view_arguments(pack, "FY2027-Q4 or FY2027-M10")
    pack.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="folder to write the files into (made if missing)")
    pack.add_argument("--format", metavar="html,pdf,png,xlsx",
                      help="the formats to write, comma-separated (default: all four, PDF and "
                           "PNG skipped with a message when no Chromium is found; a format "
                           "asked for and not written exits 1)")
    pack.add_argument("--paper", choices=["a4", "letter"], default="a4",
                      help="the PDF's paper, landscape (default a4)")
    pack.add_argument("--in-blood-defaults", action="store_true",
                      help="in-blood from the default rules even when a saved call exists")
    backtest = commands.add_parser(
        "backtest", help="every forecast method, week by week, against what closed")
    backtest.add_argument("--db", type=Path, default=None)
    backtest.add_argument("--periods", nargs="+", default=None, metavar="LABEL",
                          help="completed periods, e.g. FY2026-Q2 FY2026-Q3 or FY2026-M7 "
                               "(default: the four completed fiscal quarters before as-of)")
    backtest.add_argument("--as-of", type=iso_date, default=None,
                          help="the data as known on this date (default: latest snapshot, "
                               "else today)")
    for dimension in FILTER_DIMENSIONS:
        backtest.add_argument(f"--{dimension}", action="extend", nargs="+", default=None,
                              metavar="V", help=f"only these {dimension} values (repeatable)")
    backtest.add_argument("--format", choices=FORMATS, default="json")

    scores = commands.add_parser(
        "scores", help="each open, qualified deal's win probability and its factors")
    _add_view_arguments(scores, "FY2027-Q4 or FY2027-M10 (default: the quarter holding as-of)")
    scores.add_argument("--format", choices=["json", "csv"], default="json")
    scores.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="write here instead of standard output (replaced if it exists)")

    # Listed for --help only: main() hands `bench` and its arguments to `python -m bench`.
    commands.add_parser("bench", add_help=False,
                        help="measure the performance budgets at a size (`python -m bench`)")

    export = commands.add_parser("export", help="the deal explorer's rows to a CSV or XLSX file")
    export.add_argument("what", choices=["deals"], help="what to export")
    _add_view_arguments(export, "only deals closing in FY2027-Q4 or FY2027-M10 (default: every "
                                "deal)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv|FILE.xlsx",
                        help="the file to write (replaced if it exists)")

    from sales.ingest.command import add_arguments as add_import_arguments

    add_import_arguments(commands.add_parser("import", help="import CRM exports (CSV or XLSX)"),
                         iso_date)
    from sales.crm.command import add_arguments as add_sync_arguments

    add_sync_arguments(commands.add_parser("sync", help="read the CRM (Salesforce or HubSpot) "
                                                        "and record today's snapshot"), iso_date)
    from sales.access_command import add_arguments as add_access_arguments

    add_access_arguments(commands.add_parser("access", help="who may sign in, and their role "
                                                            "and scope (team mode)"))
    from sales.forecast_command import add_arguments as add_forecast_arguments

    add_forecast_arguments(commands.add_parser("forecast", help="people's forecast calls: "
                                                                "submit one, or list them"))
    from sales import digest_command

    digest_command.add_digest_arguments(commands.add_parser(
        "digest", help="the Monday digest by e-mail (each grant its own scope) or Slack"))
    from sales.state.command import add_arguments as add_state_arguments

    add_state_arguments(commands.add_parser(
        "state", help="move the shared state (saved calls, settings, targets, access…) between "
                      "the database file and PostgreSQL"))
    digest_command.add_alerts_arguments(commands.add_parser(
        "alerts", help="the deal alerts the rules in settings raise"))
    digest_command.add_reminders_arguments(commands.add_parser(
        "reminders", help="remind users without a call this week before it is due"))
    return parser


def _run_delivery(args: argparse.Namespace) -> int:
    from sales.digest_command import run

    return run(args)


def _run_demo(args: argparse.Namespace) -> int:
    from sales.demo import build_demo  # numpy-heavy; only loaded when building

    if args.opportunities < 1:
        raise UsageError("--opportunities must be at least 1")
    if not 1 <= args.fiscal_year_start <= 12:
        raise UsageError("--fiscal-year-start must be a month number 1-12")
    if args.history_quarters < 1:
        raise UsageError("--history-quarters must be at least 1")
    path = args.db or db_path()
    summary = build_demo(path, opportunities=args.opportunities, seed=args.seed,
                         as_of=args.as_of, fy_start_month=args.fiscal_year_start,
                         progress=ProgressBar(), company=args.company,
                         history_quarters=args.history_quarters)
    print(f"Built {path}: {summary['opportunities']:,} opportunities, "
          f"{summary['history_rows']:,} history rows, snapshots {summary['first_snapshot']} to "
          f"{summary['last_snapshot']} in {summary['seconds']:.1f} s")
    return 0


def _open_for_reading(path: Path):
    if not path.exists():
        raise UsageError(f"no database at {path}; build one with `python -m sales demo --db "
                         f"{path}` or import data")
    return open_current(path)  # works while the app holds the file


def _period_and_as_of(con: duckdb.DuckDBPyConnection, args: argparse.Namespace
                      ) -> tuple[Period, date]:
    """The command's as-of (default: the latest snapshot) and period (default: the quarter
    holding as-of); a period label that does not parse is a usage error."""
    fy_start = load_settings(con).fiscal_year_start_month
    as_of = args.as_of or default_as_of(con)
    try:
        period = (parse_period(args.period, fy_start) if args.period
                  else period_containing(as_of, QUARTER, fy_start))
    except ValueError as error:
        raise UsageError(str(error)) from None
    return period, as_of


def _run_report(args: argparse.Namespace) -> int:
    con = _open_for_reading(args.db or db_path())
    period, as_of = _period_and_as_of(con, args)
    if (args.window_start is None) != (args.window_end is None):
        raise UsageError("give both --window-start and --window-end, or neither")
    window = (args.window_start, args.window_end) if args.window_start else None
    if window and window[0] > window[1]:
        raise UsageError("--window-start is after --window-end")
    if args.since is not None and args.since > as_of:
        raise UsageError(f"--since {args.since} is after the as-of date {as_of}")
    if args.history_periods is not None and args.history_periods < 1:
        raise UsageError("--history-periods must be at least 1")
    filters = Filters.of(**{d: getattr(args, d) for d in FILTER_DIMENSIONS})
    shown = None
    if args.currency:
        try:
            con, shown = show_in(con, args.currency, date.today())
        except CurrencyError as error:
            raise UsageError(str(error)) from None
    report = command_report(con, View(period, as_of, filters), window,
                            use_saved_call=not args.in_blood_defaults, since=args.since,
                            history_periods=args.history_periods, currency=shown)
    before = fmt.use_currency(report.currency or "USD")  # markdown writes money in it
    try:
        sys.stdout.write(render(report.as_report(), args.format))
    finally:
        fmt.use_currency(before)  # a caller in this thread (a test, a script) keeps its own
    return 0


def _check_filters(con, filters: Filters) -> None:
    """A filter value the data does not have is a typo, not an empty view: refuse it."""
    from sales.query import distinct_values

    for dimension, values in filters.active().items():
        known = distinct_values(con, dimension)
        unknown = [v for v in values if v not in known]
        if unknown:
            shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
            raise UsageError(f"--{dimension} {', '.join(unknown)}: not in the data (known: "
                             f"{shown or 'none'})")


def _run_board_pack(args: argparse.Namespace) -> int:
    from sales.boardpack.build import FORMATS, build_pack, write_pack

    asked = args.format is not None  # the default may skip PDF and PNG; an explicit ask may not
    formats = (tuple(f.strip().lower() for f in args.format.split(",") if f.strip()) if asked
               else FORMATS)
    wrong = [f for f in formats if f not in FORMATS]
    if wrong or not formats:
        raise UsageError(f"--format {args.format!r}: choose from {','.join(FORMATS)}")
    con = _open_for_reading(args.db or db_path())
    fy_start = load_settings(con).fiscal_year_start_month
    as_of = args.as_of or default_as_of(con)
    if not args.period:
        raise UsageError("give the period: --period FY2027-Q4 (or a month, FY2027-M10)")
    try:
        period = parse_period(args.period, fy_start)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not con.execute("select count(*) from opportunities").fetchone()[0]:
        raise UsageError(f"no opportunities in {args.db or db_path()}: import a CRM export or "
                         "build the demo (`python -m sales demo`) first")
    filters = Filters.of(**{d: getattr(args, d) for d in FILTER_DIMENSIONS})
    _check_filters(con, filters)
    progress = ProgressBar()
    progress(0.02, "Scoring the open deals (once per model and snapshot)")
    from sales.winprob.store import scored_for

    scored_for(con, period, as_of)  # the pack reads the stored scores; a page never waits
    progress(0.05, f"Computing the figures for {period.label} as of {as_of}")
    pack = build_pack(con, View(period, as_of, filters),
                      use_saved_call=not args.in_blood_defaults, progress=progress)
    con.close()
    written = write_pack(pack, args.out, formats, args.paper, progress)
    for path in written.paths:
        print(path)
    for message in written.skipped:
        print(f"not written: {message}", file=sys.stderr)
    return 1 if asked and written.skipped else 0


def _run_backtest(args: argparse.Namespace) -> int:
    from sales import backtest

    con = _open_for_reading(args.db or db_path())
    settings = load_settings(con)
    fy_start = settings.fiscal_year_start_month
    as_of = args.as_of or default_as_of(con)
    try:
        periods = ([parse_period(label, fy_start) for label in args.periods] if args.periods
                   else backtest.default_periods(as_of, fy_start))
    except ValueError as error:
        raise UsageError(str(error)) from None
    periods = sorted(set(periods), key=lambda p: (p.start, p.kind))
    running = [p.label for p in periods if p.end >= as_of]
    if running:
        raise UsageError(f"{', '.join(running)} had not ended by {as_of}: a backtest needs "
                         "completed periods (pick earlier ones, or a later --as-of)")
    filters = Filters.of(**{d: getattr(args, d) for d in FILTER_DIMENSIONS})
    _check_filters(con, filters)
    result = backtest.backtest(con, periods, as_of, filters, settings)
    sys.stdout.write(backtest.render(result, args.format))
    return 0


def _run_scores(args: argparse.Namespace) -> int:
    from sales.winprob.scores import render_scores, scores_report
    from sales.winprob.store import scored_for

    con = _open_for_reading(args.db or db_path())
    period, as_of = _period_and_as_of(con, args)
    filters = Filters.of(**{d: getattr(args, d) for d in FILTER_DIMENSIONS})
    _check_filters(con, filters)
    view = View(period, as_of, filters)
    text = render_scores(scores_report(view, scored_for(con, period, as_of)), args.format)
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _hand_off_to_bench(arguments: list[str]) -> None:
    """Become `python -m bench` with the same arguments: the benchmarks are tooling, kept out
    of this package, and the command others script against stays as it was."""
    root = str(Path(__file__).resolve().parent.parent)  # where `bench` sits beside `sales`
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, path]) if path else root}
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "bench", *arguments], env)


def _run_export(args: argparse.Namespace) -> int:
    from sales.explorer import DealQuery, write_deals  # pandas-heavy; only loaded when exporting

    if args.out.suffix.lower() not in (".csv", ".xlsx"):
        raise UsageError(f"--out must end in .csv or .xlsx, not {args.out.name}")
    con = _open_for_reading(args.db or db_path())
    fy_start = load_settings(con).fiscal_year_start_month
    as_of = args.as_of or default_as_of(con)
    try:
        period = parse_period(args.period, fy_start) if args.period else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    filters = Filters.of(**{d: getattr(args, d) for d in FILTER_DIMENSIONS})
    view = View(period or period_containing(as_of, QUARTER, fy_start), as_of, filters)
    query = DealQuery(close_from=period.start, close_to=period.end) if period else DealQuery()
    try:
        written = write_deals(con, view, query, args.out)
    except ValueError as error:
        raise UsageError(str(error)) from None
    closing = f", closing in {period.label}" if period else ""
    print(f"Wrote {written:,} deals to {args.out} (as of {as_of}{closing}).")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from sales.ingest.command import run  # pandas-heavy; only loaded when importing

    return run(args)


def _run_sync(args: argparse.Namespace) -> int:
    from sales.crm.command import run  # requests and pandas; only loaded when syncing

    return run(args)


def _run_access(args: argparse.Namespace) -> int:
    from sales.access_command import run

    return run(args)


def _run_state(args: argparse.Namespace) -> int:
    from sales.state.command import run

    return run(args)


def _run_forecast(args: argparse.Namespace) -> int:
    from sales.forecast_command import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        _hand_off_to_bench(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return {"demo": _run_demo, "report": _run_report,
                "board-pack": _run_board_pack, "backtest": _run_backtest,
                "scores": _run_scores,
                "import": _run_import, "export": _run_export,
                "access": _run_access, "sync": _run_sync, "forecast": _run_forecast,
                "digest": _run_delivery, "alerts": _run_delivery,
                "reminders": _run_delivery, "state": _run_state}[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
