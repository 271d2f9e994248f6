"""Several app processes behind a sticky proxy — `python -m bench --sessions K,… --processes N,…`.

For each N it starts N `streamlit run` processes on the bench database and spreads the
sessions of `bench/load.py` across them as the README's nginx would (each session keeps its
process; round-robin per session). With N > 1 the processes share saved state through
`SALES_STATE_URL` (PostgreSQL) and open the file read-only; without it a second process could
not open the file, so the bench refuses before starting anything.

Per N, on the same warm processes, in this order: the sessions with 2 s between clicks
(`processes.<N>.sessions.<K>`), the same with 10 s (`processes.<N>.calm.sessions.<K>`), the
arrival wave (`processes.<N>.arrivals.<K>`), and with N ≥ 2 one process killed mid-run
(`processes.<N>.recovery`) — last, since it leaves N − 1 processes.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.load import (
    CALM_THINK_S,
    THINK_S,
    Outage,
    Router,
    Server,
    Stats,
    _person,
    _summary,
    _warm,
    filter_options,
    people,
    quantile,
    serving,
)

STATE_URL = "SALES_STATE_URL"
# The wave of people opening the app as a Monday call starts: K arrivals spread over this window.
ARRIVAL_WINDOW_S = 10.0


def state_problem(processes: list[int], environ: Mapping[str, str] = os.environ) -> str | None:
    """Why these numbers of processes cannot run here (one line), or None."""
    if max(processes) > 1 and not environ.get(STATE_URL):
        return (f"--processes {max(processes)} needs {STATE_URL}=postgresql://… (the processes "
                f"share saved state there; without it only one process can open the file)")
    return None


@contextmanager
def running(databases: list[Path], log_dir: Path | None = None) -> Iterator[list[Server]]:
    """One `streamlit run` per file in `databases` (the same file N times in real use), each on
    a free port; the server logs go to `log_dir` when given."""
    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        servers = [stack.enter_context(serving(
            database, log=log_dir / f"server-{i}.log" if log_dir else None))
            for i, database in enumerate(databases)]
        yield servers


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _warm_all(router: Router, personas: int, options: dict) -> None:
    """Each process visits the views of the personas the proxy sends to it, all at once."""
    count = len(router.urls)
    await asyncio.gather(*(_warm(url, range(j, personas, count), options)
                           for j, url in enumerate(router.urls)))


async def arrival_wave(router: Router, count: int, options: dict, seconds: float,
                       seed: int = 7) -> dict:
    """`count` people opening the app within ARRIVAL_WINDOW_S (one per slice of the window, at a
    random moment in it), then clicking every CALM_THINK_S until `seconds` after the window;
    the first page's p95 (connecting included) and every render's."""
    stats = Stats()
    start = time.perf_counter()
    until = start + ARRIVAL_WINDOW_S + seconds
    slice_s = ARRIVAL_WINDOW_S / count
    rng = random.Random(seed)
    await asyncio.gather(*(
        _person(router, i, options, until, stats, seed, CALM_THINK_S,
                arrive_at=start + slice_s * (i + rng.random())) for i in range(count)))
    summary = _summary(stats, time.perf_counter() - start)
    return {"first_render_p95_s": quantile(stats.firsts, 0.95),
            "first_render_max_s": quantile(stats.firsts, 1.0),
            "p95_s": summary["p95_s"], "errors": summary["errors"],
            "renders": summary["renders"], "error_examples": summary["error_examples"]}


def _recovery_figures(outage: Outage, affected: int, stats: Stats) -> dict:
    times = list(outage.recovered.values())
    return {"p50_s": round(statistics.median(times), 3) if times else None,
            "max_s": quantile(times, 1.0), "sessions": affected,
            "lost": affected - len(times), "errors": len(stats.errors),
            "error_examples": stats.errors[:3]}


async def kill_one(servers: list[Server], router: Router, count: int, options: dict,
                   seconds: float) -> dict:
    """`count` people clicking every THINK_S; halfway through, the first process is killed
    (SIGKILL: no goodbye to its browsers). Its sessions reconnect to the next process and
    render their page again: the seconds from the kill to that render, p50 and max."""
    victim = servers[0]
    outage = Outage(victim.url)
    affected = sum(1 for i in range(count) if router.candidates(i)[0] == victim.url)
    stats = Stats()
    run = asyncio.ensure_future(people(router, count, options, seconds, outage=outage,
                                       stats=stats))
    await asyncio.sleep(seconds / 2)
    outage.at = time.perf_counter()
    victim.kill()
    await run
    return _recovery_figures(outage, affected, stats)


def _peak_rss_sum(servers: list[Server]) -> float | None:
    peaks = [server.peak_rss_mb() for server in servers]
    return round(sum(p for p in peaks if p is not None), 1) if any(peaks) else None


def measure_processes(databases: list[Path], counts: list[int], arrivals: list[int],
                      seconds: float, log_dir: Path | None = None) -> dict:
    """One N (= len(databases)): the figures under `processes.<N>` (README, "Scaling")."""
    result: dict = {"think_s": THINK_S, "sessions": {},
                    "calm": {"think_s": CALM_THINK_S, "sessions": {}}, "arrivals": {}}
    with running(databases, log_dir) as servers:
        router = Router([server.url for server in servers])
        options = asyncio.run(filter_options(router.urls[0]))
        asyncio.run(_warm_all(router, max(counts + arrivals), options))
        for think_s, into in ((THINK_S, result["sessions"]),
                              (CALM_THINK_S, result["calm"]["sessions"])):
            for count in counts:
                _say(f"  {len(servers)} processes, {count} sessions, {think_s:g} s think")
                into[str(count)] = asyncio.run(people(router, count, options, seconds, think_s))
                _say(f"    {into[str(count)]}")
        for count in arrivals:
            _say(f"  {len(servers)} processes, {count} arriving within {ARRIVAL_WINDOW_S:g} s")
            result["arrivals"][str(count)] = asyncio.run(
                arrival_wave(router, count, options, seconds))
            _say(f"    {result['arrivals'][str(count)]}")
        if len(servers) > 1:
            count = max(counts or arrivals)
            _say(f"  {len(servers)} processes, {count} sessions, one killed halfway")
            result["recovery"] = asyncio.run(kill_one(servers, router, count, options, seconds))
            _say(f"    {result['recovery']}")
        result["server_peak_rss_mb"] = _peak_rss_sum(servers)
    return result


def measure(database: Path, processes: list[int], counts: list[int], arrivals: list[int],
            seconds: float, log_dir: Path | None = None) -> dict:
    """`processes.<N>` for every N: N processes on the one file (state in SALES_STATE_URL)."""
    return {"processes": {str(n): measure_processes([database] * n, counts, arrivals, seconds,
                                                    log_dir) for n in processes},
            "processes_duration_s": seconds, "arrival_window_s": ARRIVAL_WINDOW_S}
