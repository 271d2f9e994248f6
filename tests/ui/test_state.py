"""One connection per process, a cursor per query: concurrent readers get the same numbers."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from sales.periods import parse_period
from sales.report import full_report
from sales.view import View
from tests.helpers import d


@pytest.mark.slow
def test_threads_sharing_one_connection_agree(metrics_con):
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    expected = full_report(metrics_con, view).as_report()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: full_report(metrics_con, view).as_report(), range(32)))
    assert all(r == expected for r in results)


def test_a_second_process_writing_the_file_is_said_plainly(demo_db, tmp_path, monkeypatch):
    # Another app server (or any program) holds the file for writing: DuckDB allows one
    # writer process, so this server cannot open it, and says why instead of a traceback.
    import shutil
    import subprocess
    import sys

    from tests.helpers import run_page

    path = tmp_path / "held.duckdb"
    shutil.copyfile(demo_db, path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
         "print('holding', flush=True); time.sleep(120)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        at = run_page("overview.py", path, monkeypatch)
        message = at.error[0].value
        assert "holds the database file" in message and f"process {holder.pid}" in message
        assert not at.metric  # no numbers drawn
    finally:
        holder.kill()
        holder.wait()
