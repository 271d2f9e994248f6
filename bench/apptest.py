"""Page timings the independent way: every page in a fresh process of its own, under AppTest.

Run as `python -m bench.apptest --db PATH [--pages overview,forecast_call] [--profile DIR]`;
prints one JSON object, per page the first `run()` of a fresh `AppTest.from_file(...)` in a
fresh process and the re-run after a filter change (a region, then a segment: the median of
the two). Unlike `bench.pages`, nothing of another page's run is in the process: no held
intermediate, no cached answer, no warmed connection. The libraries a served app has loaded
(Streamlit, pandas, Plotly, DuckDB, our packages) are imported before the clock starts; opening
the database is inside the first run, as it is for a process's first visitor.

`--profile DIR` writes each page's first run as a cProfile file (`DIR/<page>.prof`), and its
last re-run (`DIR/<page>.rerun.prof`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.pages import timed_run

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 120
# Long enough for the slowest page twice on a loaded machine, short enough to notice a hang.
PAGE_PROCESS_TIMEOUT_S = 600


def _pages() -> list[str]:
    return sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


def _changes(db: str) -> list[dict]:
    """A region, then a segment: two filter values no run has seen."""
    from sales.db import open_for_reading
    from sales.query import distinct_values

    con = open_for_reading(db)
    try:
        regions, segments = distinct_values(con, "region"), distinct_values(con, "segment")
    finally:
        con.close()
    return [{"region": regions[:1]}, {"segment": segments[-1:]}]



_PROFILED = """
import cProfile, os, runpy
_profiler = cProfile.Profile()
_profiler.enable()
try:
    runpy.run_path({page!r}, run_name="__main__")
finally:
    _profiler.disable()
    # The first run's, then the (last) re-run's.
    _profiler.dump_stats({out!r} if not os.path.exists({out!r}) else {rerun!r})
"""


def time_one(name: str, changes: list[dict], profile: Path | None) -> dict[str, float]:
    """One page, in this (fresh) process: its first run, then a run after each filter change."""
    # What a served app process has loaded before any page runs.
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    from streamlit.testing.v1 import AppTest

    import ui.data  # noqa: F401

    page = ROOT / "pages" / f"{name}.py"
    at = AppTest.from_file(str(page), default_timeout=RUN_TIMEOUT_S)
    if profile is not None:
        # The script runs in AppTest's own thread: profile it from inside, then rerun the page
        # itself after the filter changes.
        profile.mkdir(parents=True, exist_ok=True)
        (profile / f"{name}.prof").unlink(missing_ok=True)
        script = _PROFILED.format(page=str(page), out=str(profile / f"{name}.prof"),
                                  rerun=str(profile / f"{name}.rerun.prof"))
        at = AppTest.from_string(script, default_timeout=RUN_TIMEOUT_S)
    first = timed_run(at)
    rerenders = []
    for change in changes:
        for key in ("segment", "region"):
            at.session_state[key] = change.get(key, [])
        rerenders.append(timed_run(at))
    return {"first_render_s": round(first, 3),
            "rerender_s": round(statistics.median(rerenders), 3)}


def _in_fresh_process(name: str, db: str, profile: Path | None) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.apptest", "--db", db, "--one", name]
    if profile is not None:
        command += ["--profile", str(profile)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=PAGE_PROCESS_TIMEOUT_S,
                          env={**os.environ, "SALES_DB": db})
    if done.returncode != 0:
        raise RuntimeError(f"{name}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apptest")
    parser.add_argument("--db", required=True)
    parser.add_argument("--pages", default="", help="comma-separated page names (default all)")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child's page
    args = parser.parse_args(argv)
    db = str(Path(args.db).resolve())
    os.environ["SALES_DB"] = db
    sys.path.insert(0, str(ROOT))
    if args.one:
        print(json.dumps(time_one(args.one, _changes(db), args.profile)))
        return 0
    names = [p for p in args.pages.split(",") if p] or _pages()
    pages = {}
    for name in names:
        pages[name] = _in_fresh_process(name, db, args.profile)
        print(f"  {name}: {pages[name]}", file=sys.stderr, flush=True)
    print(json.dumps({"pages": pages}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
