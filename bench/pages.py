"""Page timings in a process of their own — the "app process" of `python -m bench`.

Run as `python -m bench.pages --db PATH [--runs N] [--pages forecast_call,overview]`; prints
one JSON object: per page (all, or those named) the first render in a warm process (caches and
held intermediates cleared, connection and imports warm) and the re-render after a filter
change (median of N changes, each to a filter value not seen before, so nothing comes from the
cache), the in-blood toggle, and this process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# AppTest's own limit for one run; generous, the bench reports the real time.
RUN_TIMEOUT_S = 120


def _pages() -> list[str]:
    return sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


def timed_run(at) -> float:
    """Seconds one AppTest run takes; a page that raised is an error, not a figure."""
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"page failed: {at.exception[0].value}")
    return elapsed


def _filter_changes(segments: list[str], regions: list[str], runs: int) -> list[dict]:
    """Distinct filter selections, so every re-render misses the cache as a new choice would.
    Regions first: a segment choice can take a page's whole subject away (no SMB segment left
    for the SMB forecast), which is quick and would flatter the median."""
    choices = [{"region": [r]} for r in regions] + [{"segment": [s]} for s in segments]
    choices += [{"segment": [s], "region": [r]} for s in segments for r in regions]
    return choices[:runs]


def _clear_caches() -> None:
    """Forget every cached result and held intermediate; keep the connection (a warm process)."""
    import streamlit as st

    from ui import data

    st.cache_data.clear()
    data.clear_held()


def warm_up() -> None:
    """Render one small page first, unmeasured, so the first page measured does not pay for
    importing Streamlit's runtime, Plotly and pandas (a warm process has them)."""
    from streamlit.testing.v1 import AppTest

    timed_run(AppTest.from_file(str(ROOT / "pages" / "plan.py"), default_timeout=RUN_TIMEOUT_S))


def time_page(name: str, changes: list[dict]) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    _clear_caches()
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=RUN_TIMEOUT_S)
    first = timed_run(at)
    rerenders = []
    for change in changes:
        for key in ("segment", "region"):
            at.session_state[key] = change.get(key, [])
        rerenders.append(timed_run(at))
    return {"first_render_s": round(first, 3),
            "rerender_s": round(statistics.median(rerenders), 3) if rerenders else None}


def time_toggle(runs: int) -> float | None:
    """Tick one deal on the in-blood board and redraw; the board's queries are cached, as in
    the live app, so this is what a click costs (an upper bound: AppTest reruns the whole
    page, the app only the board's fragment)."""
    from streamlit.testing.v1 import AppTest

    _clear_caches()
    at = AppTest.from_file(str(ROOT / "pages" / "inblood.py"), default_timeout=RUN_TIMEOUT_S)
    timed_run(at)
    if not at.data_editor:
        return None
    times = []
    for flip in range(runs):
        editor = at.data_editor[0]
        edits = {0: {"Include": bool(flip % 2)}}
        at.session_state[editor.key] = {"edited_rows": edits, "added_rows": [],
                                        "deleted_rows": []}
        times.append(timed_run(at))
    return round(statistics.median(times), 3)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage: Linux carries ru_maxrss over
    an exec, so a child started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", default="", help="comma-separated page names (default all)")
    args = parser.parse_args(argv)
    os.environ["SALES_DB"] = str(Path(args.db).resolve())
    sys.path.insert(0, str(ROOT))

    from sales.db import open_for_reading
    from sales.query import distinct_values

    con = open_for_reading(args.db)
    segments, regions = distinct_values(con, "segment"), distinct_values(con, "region")
    con.close()
    changes = _filter_changes(segments, regions, args.runs)
    warm_up()
    pages = {}
    for name in [p for p in args.pages.split(",") if p] or _pages():
        pages[name] = time_page(name, changes)
        print(f"  {name}: {pages[name]}", file=sys.stderr, flush=True)
    result = {"pages": pages, "in_blood_toggle_s": time_toggle(args.runs),
              "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
