"""What a new session pays before its first page, in a warm process.

Run as `python -m bench.arrival --db PATH [--sessions N] [--apptest]`; prints one JSON object.
A real `streamlit run app.py` server (`bench.load.serving`) is warmed by one session that opens
the Overview; then N fresh sessions arrive one after another, each opening the app (the
Overview, the default page) and then rendering it again unchanged. `first_render_s` is the
arrival, `repeat_render_s` the same page once the session exists; medians and maxima over the
N sessions. With `--apptest` the same is measured in this process under AppTest: a first
`AppTest.from_file("app.py")` warms it, then each fresh `AppTest` is a new session (less
AppTest's own per-instance set-up, reported apart as `harness_s`).

One session at a time, so the figures are what arriving costs, not queueing behind others (an
arrival wave is `bench --sessions`' business).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench.pages import timed_run

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 120


def _summary(firsts: list[float], repeats: list[float]) -> dict:
    return {"first_render_s": round(statistics.median(firsts), 3),
            "first_render_max_s": round(max(firsts), 3),
            "repeat_render_s": round(statistics.median(repeats), 3),
            "sessions": len(firsts)}


async def _arrivals(url: str, sessions: int) -> tuple[list[float], list[float]]:
    from bench.load import Session

    warm = Session(url)
    await warm.open()
    for _ in range(3):  # the process's own first visit, then its caches hold the Overview
        await warm.render("")
    await warm.close()
    firsts, repeats = [], []
    for _ in range(sessions):
        fresh = Session(url)
        await fresh.open()
        firsts.append(await fresh.render(""))
        repeats.append(await fresh.render(""))
        await fresh.close()
    return firsts, repeats


def over_websocket(database: Path, sessions: int) -> dict:
    from bench.load import serving

    with serving(database) as server:
        firsts, repeats = asyncio.run(_arrivals(server.url, sessions))
    return _summary(firsts, repeats)



def under_apptest(database: Path, sessions: int) -> dict:
    """Fresh AppTests in this process. Each one's first run also scans the installed packages
    for Streamlit components (AppTest's own set-up, about 0.2 s, which a served app does once
    per process): that scan is timed and taken out, and reported as `harness_s`."""
    os.environ["SALES_DB"] = str(database)
    sys.path.insert(0, str(ROOT))
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.testing.v1 import AppTest

    scans: list[float] = []
    scan = BidiComponentManager.discover_and_register_components

    def timed_scan(self, *args, **kwargs) -> None:
        start = time.perf_counter()
        try:
            scan(self, *args, **kwargs)
        finally:
            scans.append(time.perf_counter() - start)

    BidiComponentManager.discover_and_register_components = timed_scan
    try:
        app = str(ROOT / "app.py")
        timed_run(AppTest.from_file(app, default_timeout=RUN_TIMEOUT_S))  # the process warms up
        firsts, repeats, harness = [], [], []
        for _ in range(sessions):
            at = AppTest.from_file(app, default_timeout=RUN_TIMEOUT_S)
            scans.clear()
            first = timed_run(at)
            harness.append(sum(scans))
            firsts.append(first - sum(scans))
            repeats.append(timed_run(at))
    finally:
        BidiComponentManager.discover_and_register_components = scan
    return {**_summary(firsts, repeats), "harness_s": round(statistics.median(harness), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.arrival")
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--apptest", action="store_true",
                        help="also measure under AppTest, in this process")
    args = parser.parse_args(argv)
    database = args.db.resolve()
    result = {"arrival": {"websocket": over_websocket(database, args.sessions)}}
    if args.apptest:
        result["arrival"]["apptest"] = under_apptest(database, args.sessions)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
