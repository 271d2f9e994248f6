"""Many people at once — the session load of `python -m bench --sessions 1,8,16,32`.

Run as `python -m bench.load --db PATH --sessions 1,8,16,32 [--duration S]`; prints one
JSON object. It starts a real `streamlit run app.py` server over the database and drives it with K clients
that speak Streamlit's own websocket protocol (the `BackMsg` / `ForwardMsg` protobufs a browser
exchanges with the server, from the installed `streamlit.proto`). Each client is a manager with
a team of their own: it opens a session, loads a page, then loops — change a filter or the page,
wait for the script-finished message, think two seconds — until the run's time is up. Pages are
drawn in proportion to real use (the weekly call's pages heaviest). A render's latency runs from
the rerun request to the script-finished message, so it includes queueing behind other sessions.

Before the clients start, one client visits every view the run will use, so caches are warm as
they are on a Monday morning after the first few people. A calibration step first renders every
page cold through the same protocol, so its figures can be set beside the single-session page
timings of `python -m bench.pages` (they should agree within noise: the harness measures the app,
not itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_S = 60
THINK_S = 2.0  # harsh: a person clicking as fast as the page answers and they read it
CALM_THINK_S = 10.0  # realistic: a manager reading the page in a call between clicks
RENDER_TIMEOUT_S = 120.0
# How often people open each page, relative to each other: the weekly call's pages first.
PAGE_WEIGHTS = {"overview": 3, "inblood": 3, "forecast_call": 3, "smb_forecast": 1,
                "pipeline": 1, "coverage": 1, "rates": 1, "funnel": 1, "plan": 1,
                "data_deals": 1}
PAGE_SHARE = 0.3  # of actions that open another page; the rest change a filter


# --- the server -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, output) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"streamlit exited early:\n{output.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {STARTUP_S} s")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    peak_at_kill_mb: float | None = None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no goodbye to its browsers."""
        self.peak_at_kill_mb = self.peak_rss_mb()
        self.process.kill()

    def peak_rss_mb(self) -> float | None:
        """The server's peak resident memory so far (Linux; None elsewhere), or at its kill."""
        if self.peak_at_kill_mb is not None:
            return self.peak_at_kill_mb
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None


@contextmanager
def serving(database: Path, port: int | None = None, host: str = "127.0.0.1",
            options: tuple[str, ...] = (), log: Path | None = None,
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """`streamlit run app.py` on a (free) port over `database`, with more Streamlit `options`
    (`--secrets.files …`) and environment `env` (`SALES_STATE_URL`). Its output goes to `log`,
    else to a temporary file (a pipe nobody reads would stall a chatty server)."""
    port = port or free_port()
    env = {**os.environ, **(env or {}), "SALES_DB": str(database)}
    with (open(log, "w+") if log else tempfile.TemporaryFile("w+")) as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", host, "--server.headless", "true",
             "--browser.gatherUsageStats", "false", *options],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
        url = f"http://{host}:{port}"
        try:
            _wait_healthy(url, process, output)
            yield Server(url, process)
        finally:
            if process.poll() is None:  # the bench may have killed it on purpose
                process.terminate()
                process.wait(timeout=20)


# --- one browser's side of the protocol ------------------------------------------------------

class RenderError(Exception):
    """The page showed an exception, or the connection dropped, or no answer came."""


@dataclass
class Session:
    """One browser tab: a websocket session, the pages the app offers and the sidebar's
    filter widgets as the last render drew them."""
    url: str
    pages: dict[str, str] = field(default_factory=dict)  # url path ("" = home) -> script hash
    widgets: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # key -> id, options
    filters: dict[str, list[str]] = field(default_factory=dict)
    page: str = ""
    socket: object = None

    async def open(self) -> None:
        import websockets

        stream = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        self.socket = await websockets.connect(stream, subprotocols=["streamlit"],
                                               max_size=None, open_timeout=RENDER_TIMEOUT_S)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def dropped_within(self, seconds: float) -> bool:
        """Think for `seconds`, or less if the server drops the connection meanwhile (a
        browser notices a closed websocket at once, not at its next click)."""
        try:
            await asyncio.wait_for(self.socket.wait_closed(), seconds)
        except TimeoutError:
            return False
        return True

    def moved_to(self, url: str) -> Session:
        """A new tab state on `url` that carries this one's page and filters across, as the
        browser does when it reconnects to another process (widget ids and page hashes are
        the same in every process of one app)."""
        return Session(url, dict(self.pages), dict(self.widgets), dict(self.filters), self.page)

    async def render(self, page: str | None = None, filters: dict | None = None) -> float:
        """Ask for a rerun of `page` with `filters` (the sidebar's keys to values) and wait
        for the script to finish; the seconds it took."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if page is not None:
            self.page = page
        if filters is not None:
            self.filters = filters
        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string = ""
        rerun.page_script_hash = self.pages.get(self.page, "")
        for key, (widget_id, _options) in self.widgets.items():
            state = rerun.widget_states.widgets.add()
            state.id = widget_id
            state.string_array_value.data.extend(self.filters.get(key, []))
        start = time.perf_counter()
        await self.socket.send(message.SerializeToString())
        await asyncio.wait_for(self._until_finished(), RENDER_TIMEOUT_S)
        return time.perf_counter() - start

    async def _until_finished(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from websockets.exceptions import ConnectionClosed

        failure = None
        while True:
            try:
                data = await self.socket.recv()
            except ConnectionClosed as closed:
                raise RenderError(f"connection dropped: {closed}") from None
            message = ForwardMsg()
            message.ParseFromString(data)
            kind = message.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash
                              for p in message.navigation.app_pages}
            elif kind == "delta":
                failure = self._read_delta(message.delta) or failure
            elif kind == "script_finished":
                if message.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise RenderError("the script did not compile")
                if message.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # a rerun we asked for replaced it; wait for that one
                if failure:
                    raise RenderError(failure)
                return

    def _read_delta(self, delta) -> str | None:
        if delta.WhichOneof("type") != "new_element":
            return None
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            return f"page exception: {element.exception.message}"
        if kind == "multiselect":
            widget = element.multiselect
            key = widget.id.rsplit("-", 1)[-1]
            self.widgets[key] = (widget.id, list(widget.options))
        return None


# --- the people -----------------------------------------------------------------------------

@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)  # opening the app to its first page


def persona_views(index: int, options: dict[str, list[str]]) -> list[dict[str, list[str]]]:
    """The filter choices manager `index` moves between: everything, their team, and one
    segment and one region of their own — the handful of views a person keeps returning to."""
    def pick(name: str) -> list[str]:
        values = options.get(name) or []
        return [values[index % len(values)]] if values else []

    views: list[dict[str, list[str]]] = [{}]
    for name in ("team", "segment", "region"):
        if pick(name):
            views.append({name: pick(name)})
    if pick("team") and pick("segment"):
        views.append({"team": pick("team"), "segment": pick("segment")})
    return views


def _weighted_page(rng: random.Random) -> str:
    names = list(PAGE_WEIGHTS)
    return rng.choices(names, weights=[PAGE_WEIGHTS[n] for n in names])[0]


@dataclass
class Router:
    """The sticky proxy as the bench plays it: session `index` stays on process `index` mod N
    (round-robin per session, as a route cookie hashed over N upstreams spreads browsers);
    when its process refuses, the session tries the next ones in turn (nginx's
    `proxy_next_upstream error`)."""
    urls: list[str]

    def candidates(self, index: int) -> list[str]:
        start = index % len(self.urls)
        return self.urls[start:] + self.urls[:start]


@dataclass
class Outage:
    """One process killed mid-run: when, which, and each of its sessions' seconds from the kill
    to their next successful render on another process."""
    url: str
    at: float | None = None
    recovered: dict[int, float] = field(default_factory=dict)

    def explains(self, session: Session) -> bool:
        return self.at is not None and session.url == self.url


async def _connect(router: Router, index: int, tab: Session | None = None) -> Session:
    """Open session `index`'s websocket through the router (carrying `tab`'s page and
    filters when it moves)."""
    from websockets.exceptions import InvalidHandshake

    failure: Exception | None = None
    for url in router.candidates(index) if tab is None else _after(router, index, tab.url):
        session = tab.moved_to(url) if tab else Session(url)
        try:
            await session.open()
            return session
        except (OSError, InvalidHandshake) as error:  # refused, or accepted by a dying process
            failure = error
    raise RenderError(f"no process answers: {failure}")


def _after(router: Router, index: int, url: str) -> list[str]:
    """Where a session whose process dropped it goes: its own process first (a dropped
    connection is not always a dead process), then the others."""
    order = router.candidates(index)
    return [url] + [u for u in order if u != url] if url in order else order


async def _recover(router: Router, index: int, session: Session, stats: Stats,
                   outage: Outage | None, error: Exception | None) -> Session:
    """The connection dropped or a render failed: reconnect and render the page again, as a
    browser does. A drop the bench caused by killing the process is not an error; the time
    from the kill to this render is that session's recovery."""
    killed = outage is not None and outage.explains(session) and index not in outage.recovered
    if not killed:
        stats.errors.append(str(error or f"session {index}: connection dropped"))
    await session.close()
    moved = await _connect(router, index, session)
    await moved.render()
    if killed:
        outage.recovered[index] = time.perf_counter() - outage.at
    return moved


async def _person(router: Router, index: int, options: dict, until: float, stats: Stats,
                  seed: int, think_s: float = THINK_S, arrive_at: float | None = None,
                  outage: Outage | None = None) -> None:
    """One manager's session until `until`: a page, then filter and page changes with
    `think_s` seconds' thought between them. With `arrive_at` (a `perf_counter` time) the
    person opens the app then, and the first page's wait (connecting included) is timed."""
    rng = random.Random(seed * 1000 + index)
    views = persona_views(index, options)
    if arrive_at is None:
        await asyncio.sleep(rng.uniform(0, think_s))  # people do not click in lockstep
    else:
        await asyncio.sleep(max(0.0, arrive_at - time.perf_counter()))
    session = None
    try:
        opened = time.perf_counter()
        session = await _connect(router, index)
        await session.render("")  # the first render learns the pages and widgets
        if arrive_at is not None:
            stats.firsts.append(time.perf_counter() - opened)
            stats.latencies.append(stats.firsts[-1])
            await asyncio.sleep(think_s)
        page, view = _weighted_page(rng), rng.choice(views)
        while time.perf_counter() < until:
            try:
                stats.latencies.append(await session.render(page, view))
            except (RenderError, TimeoutError) as error:
                session = await _recover(router, index, session, stats, outage, error)
            if await session.dropped_within(think_s):
                session = await _recover(router, index, session, stats, outage, None)
            if rng.random() < PAGE_SHARE:
                page = _weighted_page(rng)
            else:
                view = rng.choice([v for v in views if v != view] or views)
    except (RenderError, OSError, TimeoutError) as error:
        stats.errors.append(f"session {index}: {error}")
    finally:
        if session is not None:
            await session.close()


async def _warm(url: str, personas: range | list[int], options: dict) -> None:
    """Visit every (page, view) the `personas` will use once, so the measured renders find
    the caches as a busy morning leaves them."""
    session = Session(url)
    await session.open()
    await session.render("")
    seen = set()
    for index in personas:
        for view in persona_views(index, options):
            for page in PAGE_WEIGHTS:
                key = (page, json.dumps(view, sort_keys=True))
                if key not in seen:
                    seen.add(key)
                    await session.render(page, view)
    await session.close()


def quantile(values: list[float], q: float) -> float | None:
    """The `q` quantile of `values` (the nearest rank at or above it), rounded to ms."""
    times = sorted(values)
    if not times:
        return None
    return round(times[min(len(times) - 1, int(q * len(times)))], 3)


def _summary(stats: Stats, seconds: float) -> dict:
    times = sorted(stats.latencies)
    return {"p50_s": round(statistics.median(times), 3) if times else None,
            "p95_s": quantile(times, 0.95), "max_s": round(times[-1], 3) if times else None,
            "renders_per_s": round(len(times) / seconds, 2), "renders": len(times),
            "errors": len(stats.errors), "error_examples": stats.errors[:3]}


async def run_sessions(url: str, sessions: int, seconds: float, seed: int = 7) -> dict:
    """K people for `seconds`; the latency figures of their renders."""
    options = await filter_options(url)
    await _warm(url, range(sessions), options)
    return await people(Router([url]), sessions, options, seconds, seed=seed)


async def filter_options(url: str) -> dict[str, list[str]]:
    """The sidebar's filters and their values, as one session's first render draws them."""
    probe = Session(url)
    await probe.open()
    await probe.render("")
    await probe.close()
    return {key: opts for key, (_id, opts) in probe.widgets.items()}


async def people(router: Router, sessions: int, options: dict, seconds: float,
                 think_s: float = THINK_S, seed: int = 7, outage: Outage | None = None,
                 stats: Stats | None = None) -> dict:
    """K people through `router` for `seconds`, thinking `think_s` between clicks; the
    latency figures of their renders (`outage`: a process the caller kills meanwhile)."""
    stats = stats if stats is not None else Stats()
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(_person(router, i, options, until, stats, seed, think_s,
                                   outage=outage) for i in range(sessions)))
    return _summary(stats, time.perf_counter() - start)


async def calibrate(url: str, changes: list[dict]) -> dict[str, float]:
    """Each page's re-render after a filter change no earlier render asked for, as
    `python -m bench.pages` times it (median over `changes`), through the websocket."""
    session = Session(url)
    await session.open()
    await session.render("")
    result = {}
    for page in PAGE_WEIGHTS:
        await session.render(page, {})
        times = [await session.render(page, change) for change in changes]
        result[page] = round(statistics.median(times), 3)
    await session.close()
    return result


def _changes(url: str, runs: int) -> list[dict]:
    """The filter changes `bench.pages` uses, from the options the app offers."""
    from bench.pages import _filter_changes

    found = asyncio.run(filter_options(url))
    return _filter_changes(found.get("segment", []), found.get("region", []), runs)


def measure(database: Path, counts: list[int], seconds: float, runs: int = 3,
            log: Path | None = None) -> dict:
    """Every K in `counts` against one server (caches carry over from K to K, as a morning's
    do), after the cold calibration; JSON keys as documented in the README."""
    result: dict = {"sessions": {}, "sessions_duration_s": seconds,
                    "sessions_think_s": THINK_S}
    with serving(database, log=log) as server:
        changes = _changes(server.url, runs)
        result["sessions_calibration"] = asyncio.run(calibrate(server.url, changes))
        for count in counts:
            print(f"  {count} sessions for {seconds:g} s", file=sys.stderr, flush=True)
            result["sessions"][str(count)] = asyncio.run(
                run_sessions(server.url, count, seconds))
            print(f"    {result['sessions'][str(count)]}", file=sys.stderr, flush=True)
        result["sessions_server_peak_rss_mb"] = server.peak_rss_mb()
    return result


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--sessions", default="1,8,16,32",
                        help="comma-separated numbers of concurrent sessions")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds each number of sessions runs")
    parser.add_argument("--runs", type=int, default=3, help="filter changes per calibration")
    parser.add_argument("--log", type=Path, default=None,
                        help="the server's output (with --processes: a folder of them)")
    parser.add_argument("--processes", default="",
                        help="comma-separated numbers of app processes (bench/processes.py)")
    parser.add_argument("--arrivals", default="",
                        help="with --processes: people opening the app within 10 s")
    args = parser.parse_args(argv)
    counts = _numbers(args.sessions)
    if args.processes:
        from bench import processes

        problem = processes.state_problem(_numbers(args.processes))
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        result = processes.measure(args.db.resolve(), _numbers(args.processes), counts,
                                   _numbers(args.arrivals), args.duration, args.log)
    else:
        result = measure(args.db.resolve(), counts, args.duration, args.runs, args.log)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
