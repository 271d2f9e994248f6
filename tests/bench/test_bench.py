"""`python -m sales bench` works and reports every figure (sizes here are tiny: no timing is
asserted, only that the command runs and its JSON carries each key)."""

import json
import subprocess
import sys

import pytest

from sales.bench import baseline, headline_ours, headline_pandas
from sales.db import connect
from sales.periods import parse_period
from sales.view import View
from tests.helpers import ROOT, d

KEYS = ["opportunities", "snapshot_rows", "in_blood_toggle_s", "report_s", "import_rows_per_s",
        "demo_build_s", "peak_rss_mb", "baseline.pandas_s", "baseline.ours_s", "baseline.ratio",
        "backtest_s"]


def test_bench_command_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    # With the short version of the session load: two sessions for a few seconds.
    done = subprocess.run([sys.executable, "-m", "sales", "bench", "--opportunities", "1500",
                           "--db", str(tmp_path / "bench.duckdb"), "--json", str(out),
                           "--runs", "1", "--sessions", "2", "--sessions-duration", "5"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.read_text())
    for key in KEYS:
        value = result
        for part in key.split("."):
            value = value[part]
        assert isinstance(value, int | float), key
    pages = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
    assert sorted(result["pages"]) == pages
    for page in result["pages"].values():
        assert page["first_render_s"] > 0 and page["rerender_s"] > 0
    assert result["opportunities"] == 1500
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
