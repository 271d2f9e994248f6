"""Imports in real conditions: killed half-way (the previous data stays and the file opens),
and from the command line while the app holds the database (the app then shows the new data)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sales.cli import main
from sales.db import connect, file_lock, write_transaction
from tests.helpers import FIXTURES, ROOT, TIMEOUT, content, metrics

# Slow: real processes killed half-way and a 300,000-row import.
pytestmark = pytest.mark.slow

LARGE_ROWS = 300_000


def _large_export(path: Path, rows: int = LARGE_ROWS) -> Path:
    """A canonical export big enough that an import takes a few seconds."""
    rng = np.random.default_rng(5)
    stages = np.array(["1-Discovery", "3-Technical Evaluation", "4-Proposal", "7-Closed Won",
                       "8-Closed Lost"])
    frame = pd.DataFrame({
        "opportunity_id": [f"BIG-{i:07d}" for i in range(rows)],
        "name": "Generated deal",
        "account_name": [f"Account {i % 5000}" for i in range(rows)],
        "account_employees": rng.integers(1, 20_000, rows),
        "owner": rng.choice(["Ann", "Bob", "Cat"], rows),
        "stage": rng.choice(stages, rows),
        "amount": rng.integers(1, 500, rows) * 100,
        "close_date": pd.to_datetime("2026-10-01") + pd.to_timedelta(rng.integers(0, 180, rows),
                                                                     unit="D"),
    })
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def loaded(tmp_path, capsys) -> Path:
    path = tmp_path / "live.duckdb"
    assert main(["import", str(FIXTURES / "opportunities.csv"), "--db", str(path),
                 "--as-of", "2026-11-20"]) == 0
    capsys.readouterr()
    return path


@pytest.mark.parametrize("phase", ["Checking", "Writing"])
def test_an_import_killed_half_way_leaves_the_previous_data(loaded, tmp_path, phase):
    big = _large_export(tmp_path / "big.csv")
    before = content(loaded)
    process = subprocess.Popen(
        [sys.executable, "-m", "sales", "import", str(big), "--db", str(loaded),
         "--as-of", "2026-11-27"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    seen = []
    for line in process.stderr:  # the progress bar, one line per step when not on a terminal
        seen.append(line)
        if phase in line:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, seen
    assert content(loaded) == before  # the file opens, and holds exactly what it held
    # The lock died with the process, and the half-built copy does not get in the next import's way.
    assert main(["import", str(FIXTURES / "opportunities_next.csv"), "--db", str(loaded),
                 "--as-of", "2026-11-27"]) == 0
    assert len(content(loaded)["opportunities"]) == 8


def test_a_command_line_import_shows_in_the_running_app(loaded, monkeypatch):
    monkeypatch.setenv("SALES_DB", str(loaded))
    at = AppTest.from_file(str(ROOT / "pages/database.py"), default_timeout=TIMEOUT).run()
    assert metrics(at)["Opportunities"] == "8"
    # The app's process now holds the file read-write: DuckDB refuses every other process, so
    # the import builds on a copy and swaps it in.
    refused = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])",
                              str(loaded)], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 1 and "lock" in refused.stderr.lower()
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "sales", "import",
                             str(FIXTURES / "report_labels.csv"), "--db", str(loaded),
                             "--as-of", "2026-11-27"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    # The open session's next interaction shows the new data: three deals, the later snapshot.
    at.run()
    assert not at.exception
    assert metrics(at)["Opportunities"] == "3"
    assert metrics(at)["Latest snapshot"] == "2026-11-27"


def test_an_app_side_write_and_an_import_do_not_lose_each_other(loaded):
    # The app writes under the lock and checkpoints before releasing it, so the copy an import
    # builds on has the app's latest save.
    holder = connect(loaded)  # the app's read-write connection
    with file_lock(loaded), write_transaction(holder) as cur:
        cur.execute("insert into targets values ('FY2026-Q4', 'company', '', 4321)")
    holder.execute("checkpoint")
    try:
        result = subprocess.run([sys.executable, "-m", "sales", "import",
                                 str(FIXTURES / "opportunities_next.csv"), "--db", str(loaded),
                                 "--as-of", "2026-11-27"], cwd=ROOT, capture_output=True,
                                text=True)
    finally:
        holder.close()
    assert result.returncode == 0, result.stderr
    after = content(loaded)
    assert [float(r[3]) for r in after["targets"]] == [4321.0]
    assert len(after["snapshot_dates"]) == 2
