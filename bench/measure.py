"""`python -m bench` (or `python -m sales bench`): the budgets (docs/budgets.md#budgets) measured
at a given size, side by side with the way a typical dashboard computes the same headline numbers
(everything loaded into pandas).

Pages are timed in a separate process (`python -m bench.pages`), which plays the app process:
its peak resident memory is the app's. Everything else is timed here.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sales.coverage import enterprise_coverage
from sales.db import open_current
from sales.periods import QUARTER, Period, period_containing
from sales.query import default_as_of
from sales.rates import default_window, outcomes
from sales.report import full_report
from sales.rollup import category_rollup
from sales.settings import load_settings
from sales.stages import REPORT_CATEGORIES
from sales.targets import target_for_view
from sales.view import View

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OPPORTUNITIES = 1_000_000
DEMO_BUDGET_OPPORTUNITIES = 100_000  # budget: a 100,000-opportunity demo builds in ≤ 30 s
# docs/budgets.md#budgets, for the table's verdict column.
BUDGETS = {"first_render_s": 2.0, "rerender_s": 0.5, "in_blood_toggle_s": 0.2,
           "peak_rss_mb": 1536.0, "demo_build_s": 30.0, "backtest_s": 10.0}
# The win-probability model (docs/budgets.md#budgets): training once per data version, scoring
# every open deal of the quarter, and the backtest with the projection replayed.
WINPROB_BUDGETS = {"train_s": 60.0, "score_s": 2.0, "backtest_s": 60.0}
# Many sessions at once (the Monday-morning call, when a team opens the app together): p95
# latency per number of sessions, and the server's memory under the heaviest load.
SESSION_BUDGETS = {16: 1.0, 32: 3.0}
SESSION_RSS_BUDGET_MB = 2048.0
DEFAULT_SESSIONS_DURATION_S = 60.0
# Several processes (`--processes`), 2 s think time: p95 per (processes, sessions), the summed
# memory of two processes, and the arrival wave on two (first render p95, overall p95).
PROCESS_SESSION_BUDGETS = {(1, 16): 1.0, (2, 32): 1.0, (2, 64): 3.0}
PROCESS_RSS_BUDGET_MB = {2: 3072.0}
ARRIVAL_BUDGETS = {(2, 64): (1.0, 1.0)}

Progress = Callable[[float, str], None]


def _median_time(work: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def build_bench_db(path: Path, opportunities: int) -> float:
    """Build the demo the bench measures (in a subprocess, like a user would); seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sales", "demo", "--db", str(path), "--opportunities",
                    str(opportunities)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def sizes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Opportunities, stored change rows, and the full-picture snapshot rows they stand for."""
    return {
        "opportunities": con.execute("select count(*) from opportunities").fetchall()[0][0],
        "history_rows": con.execute("select count(*) from opportunity_history").fetchall()[0][0],
        "snapshot_rows": con.execute("select count(*) from opportunity_snapshots"
                                     ).fetchall()[0][0],
    }


def headline_ours(con: duckdb.DuckDBPyConnection, view: View) -> dict[str, float | None]:
    """Roll-up, coverage, close and win rate the product's way: aggregated in DuckDB."""
    rollup = category_rollup(con, view)
    target = target_for_view(con, view.period, view.filters).amount
    coverage = enterprise_coverage(rollup, target)
    done = outcomes(con, *default_window(view.period), view.as_of, view.filters)
    return {**{c: rollup[c].amount for c in REPORT_CATEGORIES}, "target": target,
            "coverage": coverage.enterprise, "close_rate": done.close_rate()[1],
            "win_rate": done.win_rate()[1]}


def headline_pandas(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, float | None]:
    """The same numbers the way a typical dashboard gets them: load the tables, compute in
    pandas (today's state, no filters)."""
    deals = con.execute("select * from opportunities").df()
    stages = con.execute("select * from stage_map").df()
    targets = con.execute("select * from targets").df()
    deals = deals.merge(stages[["stage", "qualified", "closed", "won"]], on="stage", how="left")
    closed, won = deals["closed"].fillna(False), deals["won"].fillna(False)
    qualified = deals["qualified"].fillna(True)
    deals["category"] = np.select(
        [closed & won, closed, ~qualified], ["Closed", "Omitted", "Unqualified"],
        default=deals["forecast_category"].fillna("Pipeline"))
    close = pd.to_datetime(deals["close_date"])
    amount = deals["amount"].astype(float)
    in_period = close.between(pd.Timestamp(period.start), pd.Timestamp(period.end))
    sums = amount[in_period].groupby(deals.loc[in_period, "category"]).sum()
    rollup = {c: float(sums.get(c, 0.0)) for c in REPORT_CATEGORIES}
    company = targets[(targets.period == period.label) & (targets.scope == "company")]
    target = float(company.amount.iloc[0]) if len(company) else None
    start, end = default_window(period)
    window = close.between(pd.Timestamp(start), pd.Timestamp(end)) & closed & qualified
    kinds = np.where(won, "won", deals["loss_class"].fillna("no_decision"))[window]
    counts = pd.Series(kinds).value_counts()
    won_n, comp_n, nd_n = (int(counts.get(k, 0)) for k in ("won", "competition", "no_decision"))
    forecastable = rollup["Closed"] + rollup["Commit"] + rollup["Best Case"]
    return {**rollup, "target": target,
            "coverage": forecastable / target if target else None,
            "close_rate": won_n / (won_n + comp_n + nd_n) if won_n + comp_n + nd_n else None,
            "win_rate": won_n / (won_n + comp_n) if won_n + comp_n else None}


def _same(a: dict, b: dict) -> bool:
    return all((a[k] is None and b[k] is None) or
               (a[k] is not None and b[k] is not None and abs(a[k] - b[k]) <= 1e-6 * max(1, abs(a[k])))
               for k in a)


def baseline(con: duckdb.DuckDBPyConnection, view: View, runs: int) -> dict[str, float]:
    pandas_s, theirs = _median_time(lambda: headline_pandas(con, view.period), runs)
    ours_s, ours = _median_time(lambda: headline_ours(con, view), runs)
    if not _same(ours, theirs):
        raise RuntimeError(f"baseline disagrees with the product: {theirs} vs {ours}")
    return {"pandas_s": round(pandas_s, 3), "ours_s": round(ours_s, 3),
            "ratio": round(pandas_s / ours_s, 1) if ours_s else None}


def time_backtest(con: duckdb.DuckDBPyConnection, as_of: date, runs: int) -> float:
    """`python -m sales backtest`'s work: every method over the four completed quarters before
    as-of, company-wide (budget: ≤ 10 s at 1,000,000 opportunities, docs/budgets.md#budgets)."""
    from sales.backtest import backtest, default_periods
    from sales.view import Filters

    settings = load_settings(con)
    periods = default_periods(as_of, settings.fiscal_year_start_month)
    return round(_median_time(lambda: backtest(con, periods, as_of, Filters(), settings,
                                               projection=False), runs)[0], 3)


def time_winprob(con: duckdb.DuckDBPyConnection, view: View) -> dict[str, float]:
    """The win-probability model at this size: training it for the view (the background
    work after an import), scoring every open deal of the quarter (features and trees) and
    their factors (per-row contributions; also background work), a page's projection from the
    stored scores (filter, 10,000 draws), and `backtest` with the projection over the four
    completed quarters."""
    import time

    from sales.backtest import backtest, default_periods
    from sales.view import Filters
    from sales.winprob.projection import score_rows
    from sales.winprob.scores import project_scored
    from sales.winprob.store import learn_for, score

    started = time.perf_counter()
    learned = learn_for(con, view.period, view.as_of)
    train_s = time.perf_counter() - started
    target = target_for_view(con, view.period, view.filters).amount

    def probabilities() -> None:
        _, rows = score_rows(con, view.period, view.as_of, Filters())
        learned.trained.predict(rows)

    score_s, _ = _median_time(probabilities, 3)
    started = time.perf_counter()
    scored = score(con, learned, view.period, view.as_of)
    factors_s = time.perf_counter() - started
    project_s, _ = _median_time(lambda: project_scored(scored, view.filters, target), 3)
    settings = load_settings(con)
    periods = default_periods(view.as_of, settings.fiscal_year_start_month)
    started = time.perf_counter()
    backtest(con, periods, view.as_of, Filters(), settings)
    return {"train_s": round(train_s, 2), "score_s": round(score_s, 3),
            "score_with_factors_s": round(factors_s, 2), "project_s": round(project_s, 3),
            "backtest_s": round(time.perf_counter() - started, 2),
            "eligible": learned.trained.eligible, "trained_rows": learned.trained.trained_rows}


def time_demo_build(opportunities: int = DEMO_BUDGET_OPPORTUNITIES) -> tuple[float, Path]:
    """Build the budgeted demo size; returns seconds and the file (the import source)."""
    folder = Path(tempfile.mkdtemp(prefix="sales-bench-"))
    path = folder / "demo.duckdb"
    from sales.demo import build_demo

    start = time.perf_counter()
    build_demo(path, opportunities=opportunities)
    return time.perf_counter() - start, path


def time_import(demo_path: Path) -> float:
    """Rows per second importing a 100,000-row opportunity CSV into a fresh database (reading,
    checking, writing and swapping in, as the command line does)."""
    from sales.ingest import ImportRequest, read_path, run_import

    folder = demo_path.parent
    csv = folder / "opportunities.csv"
    source = duckdb.connect(str(demo_path), read_only=True)
    rows = source.execute("select count(*) from opportunities").fetchall()[0][0]
    source.execute(f"copy opportunities to '{csv}' (header)")  # noqa: S608 - our temp path
    source.close()
    target = folder / "imported.duckdb"
    start = time.perf_counter()
    run_import(target, ImportRequest(sources=[read_path(csv)], kind="opportunities"))
    return rows / (time.perf_counter() - start)


# The board pack command with every format (figures, HTML, PDF, PNG, XLSX): leadership waits on it.
BOARD_PACK_BUDGET_S = 30.0


def time_board_pack(db: Path, period: Period) -> float:
    """`python -m sales board-pack` for the period, all four formats, in a process of its
    own: wall-clock seconds, Python and Chromium starting included."""
    with tempfile.TemporaryDirectory(prefix="bench-board-pack-") as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sales", "board-pack", "--db", str(db),
                        "--period", period.label, "--out", out], cwd=ROOT, check=True,
                       capture_output=True)
        return time.perf_counter() - start


def time_pages(db: Path, runs: int) -> dict:
    """Run the page timings in their own process (the app process) and read its JSON."""
    return _child_json([sys.executable, "-m", "bench.pages", "--db", str(db), "--runs", str(runs)])


def _child_json(command: list[str]) -> dict:
    """The JSON a measuring process prints last; its error output when it fails, so a page
    that breaks at this size says which and why."""
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:3])} failed:\n{done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_sessions(db: Path, counts: list[int], seconds: float, runs: int) -> dict:
    """K concurrent sessions against a real `streamlit run` server (`python -m bench.load`, which
    speaks Streamlit's websocket protocol); its JSON."""
    return _child_json([sys.executable, "-m", "bench.load", "--db", str(db), "--sessions",
                        ",".join(str(c) for c in counts), "--duration", str(seconds),
                        "--runs", str(runs)])


def time_processes(db: Path, processes: list[int], counts: list[int], arrivals: list[int],
                   seconds: float) -> dict:
    """The sessions (and the arrival wave, and a kill) against N processes for each N
    (`python -m bench.load --processes`, bench/processes.py); its JSON."""
    return _child_json([sys.executable, "-m", "bench.load", "--db", str(db), "--sessions",
                        ",".join(str(c) for c in counts), "--duration", str(seconds),
                        "--processes", ",".join(str(n) for n in processes),
                        "--arrivals", ",".join(str(c) for c in arrivals)])


def harness_check(pages: dict, calibration: dict) -> dict:
    """The load harness's cold re-render of each page beside `bench.pages`'s figure for it: they
    time the same work (the harness adds the app's frame and the network), so agreeing within
    noise — 0.1 s, or half the page's time — says the harness measures the app, not itself."""
    check = {}
    for name, harness_s in calibration.items():
        bench_s = (pages.get(name) or {}).get("rerender_s")
        if bench_s is None:
            continue
        check[name] = {"harness_s": harness_s, "bench_s": bench_s,
                       "agrees": abs(harness_s - bench_s) <= max(0.1, 0.5 * bench_s)}
    return check


def run_bench(opportunities: int = DEFAULT_OPPORTUNITIES, db: Path | None = None,
              runs: int = 5, progress: Progress | None = None, sessions: list[int] | None = None,
              sessions_duration: float = DEFAULT_SESSIONS_DURATION_S,
              processes: list[int] | None = None, arrivals: list[int] | None = None) -> dict:
    """Every figure docs/budgets.md#budgets names, as a dict with the documented JSON keys."""
    say = progress or (lambda fraction, message: None)
    path = Path(db) if db else ROOT / "bench" / f"bench-{opportunities}.duckdb"
    result: dict = {}
    if not path.exists():
        say(0.0, f"Building a {opportunities:,}-opportunity demo at {path}")
        result["bench_db_build_s"] = round(build_bench_db(path, opportunities), 2)
    con = open_current(path)
    say(0.2, "Counting rows")
    result.update(sizes(con))
    as_of = default_as_of(con)
    fy_start = load_settings(con).fiscal_year_start_month
    view = View(period_containing(as_of, QUARTER, fy_start), as_of)
    say(0.25, "Timing report and the pandas baseline")
    result["report_s"] = round(_median_time(lambda: full_report(con, view).as_report(), runs)[0], 3)
    result["baseline"] = baseline(con, view, runs)
    say(0.35, "Timing the forecast backtest")
    result["backtest_s"] = time_backtest(con, as_of, min(runs, 3))
    say(0.37, "Timing the win-probability model: training, scoring, the backtest")
    result["winprob"] = time_winprob(con, view)
    con.close()
    say(0.3, "Timing the board pack (every format)")
    result["board_pack_s"] = round(time_board_pack(path, view.period), 2)
    budget_size = min(DEMO_BUDGET_OPPORTUNITIES, opportunities)
    say(0.4, f"Timing a {budget_size:,}-opportunity demo build and its import")
    demo_s, demo_path = time_demo_build(budget_size)
    result["demo_build_s"] = round(demo_s, 2)
    result["import_rows_per_s"] = round(time_import(demo_path))
    result["demo_and_import_size"] = budget_size
    shutil.rmtree(demo_path.parent, ignore_errors=True)
    say(0.55, "Timing every page in an app process (AppTest)")
    result.update(time_pages(path, runs))
    if processes:
        say(0.75, f"Sessions against {', '.join(map(str, processes))} processes, "
                  f"{sessions_duration:g} s each")
        result.update(time_processes(path, processes, sessions or [], arrivals or [],
                                     sessions_duration))
    elif sessions:
        say(0.75, f"{', '.join(map(str, sessions))} concurrent sessions against streamlit run, "
                  f"{sessions_duration:g} s each")
        result.update(time_sessions(path, sessions, sessions_duration, runs))
        result["sessions_check"] = harness_check(result["pages"],
                                                 result.pop("sessions_calibration"))
    result["as_of"] = as_of.isoformat()
    result["measured_on"] = date.today().isoformat()
    say(1.0, "Done")
    return result


def _backtest_line(result: dict, verdict: Callable[[float | None, str], str]) -> list[str]:
    """The backtest's row of the measures table (absent from figures measured before it)."""
    if "backtest_s" not in result:
        return []
    return [f"| backtest (4 quarters, every method) | {result['backtest_s']} s | ≤ 10 s "
            f"{verdict(result['backtest_s'], 'backtest_s')} |"]


def _winprob_lines(result: dict) -> list[str]:
    """The model's rows of the measures table (absent from figures measured before it)."""
    found = result.get("winprob")
    if not found:
        return []
    names = {"train_s": "win-probability model: training", "score_s": "scoring every open "
             "deal", "project_s": "a page's projection from the stored scores",
             "backtest_s": "backtest with the projection (4 quarters)"}
    return [f"| {names[k]} | {found[k]} s | ≤ {budget:g} s "
            f"{'✅' if found[k] <= budget else '❌'} |" for k, budget in WINPROB_BUDGETS.items()]


def table(result: dict) -> str:
    """The result as a Markdown table a person can read (and paste into the README)."""
    def verdict(value: float | None, budget_key: str) -> str:
        budget = BUDGETS.get(budget_key)
        if value is None or budget is None:
            return ""
        return "✅" if value <= budget else "❌"

    lines = [f"Size: {result['opportunities']:,} opportunities · {result['history_rows']:,} stored "
             f"change rows · {result['snapshot_rows']:,} snapshot rows (full pictures)", "",
             "| page | first render (s) | within 2 s | re-render after a filter change (s) | "
             "within 0.5 s |", "|---|---:|:---:|---:|:---:|"]
    for name, page in result["pages"].items():
        lines.append(f"| {name} | {page['first_render_s']:.2f} | "
                     f"{verdict(page['first_render_s'], 'first_render_s')} | "
                     f"{page['rerender_s']:.2f} | {verdict(page['rerender_s'], 'rerender_s')} |")
    base, size = result["baseline"], result["demo_and_import_size"]
    lines += ["", "| measure | value | budget |", "|---|---:|---|",
              f"| in-blood toggle | {result['in_blood_toggle_s']} s | ≤ 0.2 s "
              f"{verdict(result['in_blood_toggle_s'], 'in_blood_toggle_s')} |",
              f"| report (current quarter) | {result['report_s']} s | |",
              *([f"| board pack, every format | {result['board_pack_s']} s | ≤ "
                 f"{BOARD_PACK_BUDGET_S:.0f} s "
                 f"{'✅' if result['board_pack_s'] <= BOARD_PACK_BUDGET_S else '❌'} |"]
                if "board_pack_s" in result else []),
              *_backtest_line(result, verdict),
              *_winprob_lines(result),
              f"| import throughput ({size:,}-row CSV) | {result['import_rows_per_s']:,} rows/s | |",
              f"| demo build ({size:,} opportunities) | {result['demo_build_s']} s | ≤ 30 s "
              f"{verdict(result['demo_build_s'], 'demo_build_s')} |",
              f"| app process peak memory | {result['peak_rss_mb']:,} MB | ≤ 1,536 MB "
              f"{verdict(result['peak_rss_mb'], 'peak_rss_mb')} |",
              f"| headline numbers, pandas baseline | {base['pandas_s']} s | |",
              f"| headline numbers, ours (DuckDB) | {base['ours_s']} s | "
              f"{base['ratio']}× faster |"]
    if result.get("sessions"):
        lines += ["", *sessions_table(result)]
    if result.get("processes"):
        lines += ["", *processes_table(result)]
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _ok(met: bool) -> str:
    return "✅" if met else "❌"


def _session_verdict(processes: str, count: str, figures: dict) -> str:
    budget = PROCESS_SESSION_BUDGETS.get((int(processes), int(count)))
    if budget is None:
        return ""
    return (f"p95 ≤ {budget:g} s, no errors "
            f"{_ok(figures['p95_s'] is not None and figures['p95_s'] <= budget and not figures['errors'])}")


def processes_table(result: dict) -> list[str]:
    """Sessions against N processes (2 s and 10 s think time), the arrival wave and the
    recovery from a killed process, against their budgets."""
    lines = ["Sessions against N processes, spread as the sticky proxy spreads browsers "
             f"({result['processes_duration_s']:g} s each, caches warm):", "",
             "| processes | sessions | think | p50 | p95 | max | renders/s | errors | budget |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for n, figures in result["processes"].items():
        for think, runs in ((figures["think_s"], figures["sessions"]),
                            (figures["calm"]["think_s"], figures["calm"]["sessions"])):
            for count, run in runs.items():
                verdict = _session_verdict(n, count, run) if think == figures["think_s"] else ""
                lines.append(f"| {n} | {count} | {think:g} s | {_s(run['p50_s'])} | "
                             f"{_s(run['p95_s'])} | {_s(run['max_s'])} | "
                             f"{run['renders_per_s']} | {run['errors']} | {verdict} |")
    lines += ["", "| processes | arriving in 10 s | first render p95 | p95 | errors | budget |",
              "|---:|---:|---:|---:|---:|---|"]
    for n, figures in result["processes"].items():
        for count, wave in figures["arrivals"].items():
            budget = ARRIVAL_BUDGETS.get((int(n), int(count)))
            verdict = "" if budget is None else (
                f"≤ {budget[0]:g} s and ≤ {budget[1]:g} s "
                + _ok((wave["first_render_p95_s"] or 99) <= budget[0]
                      and (wave["p95_s"] or 99) <= budget[1] and not wave["errors"]))
            lines.append(f"| {n} | {count} | {_s(wave['first_render_p95_s'])} | "
                         f"{_s(wave['p95_s'])} | {wave['errors']} | {verdict} |")
    for n, figures in result["processes"].items():
        rss, budget = figures["server_peak_rss_mb"], PROCESS_RSS_BUDGET_MB.get(int(n))
        verdict = ("" if budget is None or rss is None
                   else f" (budget ≤ {budget:,.0f} MB {_ok(rss <= budget)})")
        lines.append(f"\n{n} process{'' if n == '1' else 'es'}: peak memory {rss:,} MB "
                     f"summed{verdict}.")
        if "recovery" in figures:
            r = figures["recovery"]
            lines.append(f"One of {n} killed: its {r['sessions']} sessions rendered again on "
                         f"another after p50 {_s(r['p50_s'])}, max {_s(r['max_s'])}; "
                         f"{r['lost']} lost, {r['errors']} other errors.")
    return lines


def sessions_table(result: dict) -> list[str]:
    """Many sessions at once: latency per number of sessions against the budgets, and the
    harness's check against the single-session page timings."""
    def seconds(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f} s"

    lines = [f"Concurrent sessions ({result['sessions_think_s']:g} s think time, "
             f"{result['sessions_duration_s']:g} s each, caches warm):", "",
             "| sessions | p50 | p95 | max | renders/s | errors | budget |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for count, figures in result["sessions"].items():
        budget = SESSION_BUDGETS.get(int(count))
        verdict = ""
        if budget is not None:
            met = (figures["p95_s"] is not None and figures["p95_s"] <= budget
                   and figures["errors"] == 0)
            verdict = f"p95 ≤ {budget:g} s, no errors {'✅' if met else '❌'}"
        lines.append(f"| {count} | {seconds(figures['p50_s'])} | {seconds(figures['p95_s'])} | "
                     f"{seconds(figures['max_s'])} | {figures['renders_per_s']} | "
                     f"{figures['errors']} | {verdict} |")
    rss = result.get("sessions_server_peak_rss_mb")
    if rss is not None:
        lines.append(f"\nServer peak memory: {rss:,} MB (budget ≤ {SESSION_RSS_BUDGET_MB:,.0f} MB "
                     f"{'✅' if rss <= SESSION_RSS_BUDGET_MB else '❌'}).")
    check = result.get("sessions_check") or {}
    if check:
        agree = sum(1 for c in check.values() if c["agrees"])
        lines.append(f"Harness check: one session's cold re-render agrees with the page timings "
                     f"above on {agree} of {len(check)} pages "
                     + ", ".join(f"{name} {c['harness_s']:.2f}/{c['bench_s']:.2f} s"
                                 for name, c in check.items()) + ".")
    return lines
