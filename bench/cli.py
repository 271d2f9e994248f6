"""`python -m bench`: the performance budgets measured at a size, printed as a table (and
written as JSON with `--json`). `python -m bench` hands its arguments here unchanged."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.measure import DEFAULT_OPPORTUNITIES, DEFAULT_SESSIONS_DURATION_S, run_bench, table
from bench.processes import state_problem
from sales.progress import ProgressBar


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of session counts like 1,8,16")
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="measure the performance budgets at a size")
    parser.add_argument("--opportunities", type=int, default=None,
                        help="size of the demo to build (default 1,000,000)")
    parser.add_argument("--db", type=Path, default=None,
                        help="measure this database (built there if missing; default "
                             "bench/bench-N.duckdb)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON")
    parser.add_argument("--runs", type=int, default=5, help="repeats per timing (median)")
    parser.add_argument("--sessions", type=_counts, default=None, metavar="K,K,...",
                        help="also drive a real `streamlit run` server with K concurrent "
                             "sessions each (e.g. 1,8,16,32)")
    parser.add_argument("--sessions-duration", type=float, default=None, metavar="S",
                        help="seconds each number of sessions runs (default 60)")
    parser.add_argument("--processes", type=_counts, default=None, metavar="N,N,...",
                        help="run the sessions against N `streamlit run` processes each, "
                             "sessions spread as a sticky proxy would (N > 1 needs "
                             "SALES_STATE_URL); with N >= 2 one is killed mid-run")
    parser.add_argument("--arrivals", type=_counts, default=None, metavar="K,K,...",
                        help="with --processes: K people opening the app within 10 s, then "
                             "clicking every 10 s")
    return parser


def _usage_problem(args: argparse.Namespace, duration: float) -> str | None:
    if args.runs < 1 or (args.opportunities is not None and args.opportunities < 1):
        return "--runs and --opportunities must be at least 1"
    if duration <= 0:
        return "--sessions-duration must be positive"
    if args.arrivals and not args.processes:
        return "--arrivals needs --processes (e.g. --processes 1,2)"
    if args.processes and not (args.sessions or args.arrivals):
        return "--processes needs --sessions or --arrivals"
    return state_problem(args.processes) if args.processes else None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    duration = args.sessions_duration or DEFAULT_SESSIONS_DURATION_S
    problem = _usage_problem(args, duration)
    if problem:
        print(f"error: {problem}", file=sys.stderr)  # as every `python -m sales` command says it
        return 2
    result = run_bench(args.opportunities or DEFAULT_OPPORTUNITIES, args.db, args.runs,
                       progress=ProgressBar(), sessions=args.sessions, sessions_duration=duration,
                       processes=args.processes, arrivals=args.arrivals)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0
