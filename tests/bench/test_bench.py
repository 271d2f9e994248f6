"""`python -m sales bench` (handed to `python -m bench`) works, reports every figure, and
measured the database it names (sizes here are tiny: no timing is asserted; the sizes and the
as-of it reports are checked against the bench database itself)."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

from bench.measure import baseline, headline_ours, headline_pandas
from sales.db import connect
from sales.periods import parse_period
from sales.view import View
from tests.helpers import ROOT, d

KEYS = ["opportunities", "snapshot_rows", "in_blood_toggle_s", "report_s", "import_rows_per_s",
        "demo_build_s", "peak_rss_mb", "baseline.pandas_s", "baseline.ours_s", "baseline.ratio",
        "backtest_s"]


def _figures_of(database: Path) -> dict:
    """What the bench should have reported about `database`, read without the bench's code:
    plain counts, and the full-picture snapshot rows counted from the change intervals in
    numpy (a deal's version stands on each snapshot date in [valid_from, valid_to))."""
    con = duckdb.connect(str(database), read_only=True)

    def count(table: str) -> int:
        return con.execute(f"select count(*) from {table}").fetchone()[0]

    dates = np.sort(con.execute("select snapshot_date from snapshot_dates").fetchnumpy()
                    ["snapshot_date"])
    intervals = con.execute("select valid_from, coalesce(valid_to, date '9999-12-31') as valid_to "
                            "from opportunity_history").fetchnumpy()
    counts = {"opportunities": count("opportunities"), "history_rows": count("opportunity_history")}
    con.close()
    standing = (np.searchsorted(dates, intervals["valid_to"], side="left")
                - np.searchsorted(dates, intervals["valid_from"], side="left"))
    return {**counts, "snapshot_rows": int(standing.sum()),
            "as_of": str(dates[-1].astype("datetime64[D]"))}


def test_bench_command_reports_every_figure(tmp_path):
    out, database = tmp_path / "bench.json", tmp_path / "bench.duckdb"
    # With the short version of the session load: two sessions for a few seconds.
    done = subprocess.run([sys.executable, "-m", "sales", "bench", "--opportunities", "1500",
                           "--db", str(database), "--json", str(out),
                           "--runs", "1", "--sessions", "2", "--sessions-duration", "5"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.read_text())
    # The sizes and the as-of it measured at are those of the database it built.
    expected = _figures_of(database)
    assert {key: result[key] for key in expected} == expected
    assert expected["snapshot_rows"] > expected["history_rows"] > expected["opportunities"]
    for key in KEYS:
        value = result
        for part in key.split("."):
            value = value[part]
        assert isinstance(value, int | float), key
    pages = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
    assert sorted(result["pages"]) == pages
    for page in result["pages"].values():
        assert page["first_render_s"] > 0 and page["rerender_s"] > 0
    assert result["opportunities"] == 1500 and result["demo_and_import_size"] == 1500
    assert "| in-blood toggle |" in done.stdout  # the table a person reads
    sessions = result["sessions"]["2"]
    assert {"p50_s", "p95_s", "max_s", "renders_per_s", "errors"} <= set(sessions)
    # Two people for five seconds, two seconds' thought between clicks: a few renders each,
    # and none of them showed an exception or lost its connection.
    assert sessions["errors"] == 0 and sessions["renders_per_s"] > 0
    assert 0 < sessions["p50_s"] <= sessions["p95_s"] <= sessions["max_s"]
    assert result["sessions_server_peak_rss_mb"] > 0
    assert set(result["sessions_check"]) <= set(pages)  # each checked against its page timing
    assert "| sessions | p50 |" in done.stdout
    assert result["board_pack_s"] > 0 and "| board pack, every format |" in done.stdout
    assert "| backtest (4 quarters, every method) |" in done.stdout


def test_pandas_baseline_computes_the_same_numbers(seeded_path):
    con = connect(seeded_path)
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    ours, theirs = headline_ours(con, view), headline_pandas(con, view.period)
    # conftest: Commit 600, coverage 2.0, close rate 2/4, win rate 2/3 either way.
    assert ours == pytest.approx(theirs)
    assert (ours["Commit"], ours["coverage"], ours["close_rate"]) == (600, 2.0, 0.5)
    assert set(baseline(con, view, runs=1)) == {"pandas_s", "ours_s", "ratio"}


def test_sales_bench_hands_its_arguments_to_the_bench():
    # The same check, the same message and exit status, whichever name the command is run by.
    for command in (["sales", "bench"], ["bench"]):
        done = subprocess.run([sys.executable, "-m", *command, "--runs", "0"], cwd=ROOT,
                              capture_output=True, text=True)
        assert (done.returncode, done.stderr.strip()) == (
            2, "error: --runs and --opportunities must be at least 1"), command
