"""`python -m sales …`: the report's stable JSON keys, its formats and its error messages."""

import json
import subprocess
import sys

import pytest

from sales.cli import main
from sales.db import connect
from tests.helpers import ROOT

# Issue #2's contract, key for key.
REQUIRED_KEYS = [
    "period", "period_start", "period_end", "as_of", "filters", "target",
    *[f"categories.{c}.{m}" for c in ("Closed", "Commit", "Best Case", "Pipeline",
                                      "Unqualified", "Omitted") for m in ("amount", "count")],
    "coverage.enterprise", "coverage.remaining", "rates.window_start", "rates.window_end",
    "rates.close_rate.amount", "rates.close_rate.count", "rates.win_rate.amount",
    "rates.win_rate.count", "in_blood.number", "in_blood.upside", "in_blood.source",
]


def dig(report: dict, dotted: str):
    value = report
    for part in dotted.split("."):
        value = value[part]
    return value


def report_json(capsys, *argv) -> dict:
    assert main(["report", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def fixture_path(seeded_path):
    return str(seeded_path)


@pytest.mark.slow
def test_report_json_on_the_demo_has_every_key(demo_db):
    # As a script would run it: a separate process, default period and as-of.
    out = subprocess.run([sys.executable, "-m", "sales", "report", "--db", str(demo_db),
                          "--format", "json"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    report = json.loads(out)
    for key in REQUIRED_KEYS:
        dig(report, key)  # KeyError names a missing key
    assert report["as_of"] == "2026-11-20" and report["period"] == "FY2026-Q4"
    assert isinstance(report["categories"]["Commit"]["amount"], float)
    assert isinstance(report["target"], float) and report["coverage"]["enterprise"] > 0
    assert 0 < report["rates"]["close_rate"]["count"] < 1
    assert report["in_blood"]["number"] >= report["categories"]["Closed"]["amount"]


def test_report_numbers_on_the_hand_computed_fixture(fixture_path, capsys):
    r = report_json(capsys, "--db", fixture_path, "--period", "FY2026-Q4")
    assert r["as_of"] == "2026-11-20"  # defaults to the latest snapshot
    assert r["categories"]["Commit"] == {"amount": 600.0, "count": 3}
    assert r["target"] == 1000.0
    # SMB coverage: the fixture has no SMB target (null), and SMB's close rate in the window is
    # W2 won / (W2 + L2 lost to no decision; L3 a duplicate, excluded) = 1/2 → 2.0× required.
    assert r["coverage"] == {"enterprise": 2.0, "remaining": 3.0, "smb": None,
                             "smb_required": 2.0}
    assert r["rates"]["close_rate"] == {"amount": 0.4, "count": 0.5}
    # Commit risk: D2 (4-Proposal, 100) is the one Commit deal not yet redlining; 41 days are
    # left in the quarter, more than a third of it (30 days), so it is a note.
    assert r["in_blood"] == {"number": 1100.0, "upside": 900.0, "range_high": 2000.0,
                             "source": "default rules",
                             "commit_risk": {"amount": 100.0, "count": 1, "level": "note",
                                             "days_left": 41}}


def test_report_filters_as_of_and_window(fixture_path, capsys):
    r = report_json(capsys, "--db", fixture_path, "--period", "FY2026-Q4", "--segment",
                    "Enterprise", "Mid-Market", "--as-of", "2026-11-19")
    assert r["filters"] == {"segment": ["Enterprise", "Mid-Market"]}
    assert r["target"] is None  # Mid-Market has no target → no target for this view
    assert r["coverage"] == {"enterprise": None, "remaining": None, "smb": None,
                             "smb_required": None}  # no SMB-method segment in this view
    # Enterprise and Mid-Market Best Case as of 2026-11-13: D5 was still Pipeline.
    assert r["categories"]["Best Case"]["count"] == 0
    r = report_json(capsys, "--db", fixture_path, "--period", "FY2026-Q4",
                    "--window-start", "2026-03-01", "--window-end", "2026-06-30")
    # Only W1 (100) and W2 (300) closed in the window, both won.
    assert r["rates"]["close_rate"] == {"amount": 1.0, "count": 1.0}
    assert r["rates"]["window_start"] == "2026-03-01"


@pytest.mark.slow
def test_csv_and_markdown(fixture_path, capsys):
    assert main(["report", "--db", fixture_path, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "metric,value"
    assert "categories.Best Case.amount,900.0" in lines
    assert main(["report", "--db", fixture_path, "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Forecast report FY2026-Q4 as of 2026-11-20")
    assert "| Commit | $600 | 3 |" in text


@pytest.mark.parametrize("argv, message", [
    (["--period", "Q4-2026"], "not a label like FY2027-Q4"),
    (["--window-start", "2026-01-01"], "give both --window-start and --window-end"),
    (["--window-start", "2026-06-01", "--window-end", "2026-01-01"], "after"),
])
def test_report_errors_are_one_clear_line(fixture_path, capsys, argv, message):
    assert main(["report", "--db", fixture_path, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_report_without_a_database(tmp_path, capsys):
    assert main(["report", "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert "python -m sales demo" in capsys.readouterr().err
    assert not (tmp_path / "missing.duckdb").exists()


@pytest.mark.slow
def test_demo_command_builds_with_progress(tmp_path):
    path = tmp_path / "cli-demo.duckdb"
    result = subprocess.run([sys.executable, "-m", "sales", "demo", "--db", str(path),
                             "--opportunities", "500", "--seed", "3", "--as-of", "2026-11-20",
                             "--fiscal-year-start", "2"], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert "100%" in result.stderr  # the progress bar reached the end
    assert "Built" in result.stdout and path.exists()
    out = subprocess.run([sys.executable, "-m", "sales", "report", "--db", str(path)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["period"] == "FY2027-Q4"  # 2026-11-20 with a February year


def test_demo_command_refuses_bad_options(tmp_path, capsys):
    assert main(["demo", "--db", str(tmp_path / "x.duckdb"), "--opportunities", "0"]) == 2
    assert main(["demo", "--db", str(tmp_path / "x.duckdb"), "--fiscal-year-start", "13"]) == 2
    assert not (tmp_path / "x.duckdb").exists()


def test_report_reads_while_another_process_holds_the_database(fixture_path):
    # The app keeps a read-write connection; DuckDB then refuses every other process, so the
    # report reads a copy taken under the lock. An app-side write committed and checkpointed
    # before the report starts is in what it reads.
    holder = connect(fixture_path)
    holder.execute("update targets set amount = 2000 where scope = 'company'")
    holder.execute("checkpoint")
    try:
        out = subprocess.run([sys.executable, "-m", "sales", "report", "--db", fixture_path,
                              "--period", "FY2026-Q4"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    finally:
        holder.close()
    assert json.loads(out)["target"] == 2000.0
