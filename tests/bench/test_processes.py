"""`bench --processes`: sessions spread over N app processes as a sticky proxy spreads them,
the arrival wave, and one process killed mid-run whose people move on. The processes here
each get their own copy of a small demo (the harness is what is tested; sharing one file needs
the PostgreSQL state store); no timing is asserted."""

import asyncio
import json
import os
import shutil
import subprocess
import sys

from bench import load, processes
from bench.load import Router
from bench.measure import processes_table
from tests.helpers import ROOT


def test_each_session_keeps_its_process_and_moves_on_in_turn():
    router = Router(["a", "b", "c"])
    # Round-robin per session: sessions 0, 1, 2, 3 live on a, b, c, a.
    assert [router.candidates(i)[0] for i in range(4)] == ["a", "b", "c", "a"]
    # Session 1's process gone: it tries c next, then a (nginx's next upstream).
    assert router.candidates(1) == ["b", "c", "a"]


def test_more_than_one_process_needs_the_shared_state_and_starts_nothing(tmp_path):
    missing = tmp_path / "never-built.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "SALES_STATE_URL"}
    done = subprocess.run([sys.executable, "-m", "bench", "--db", str(missing), "--sessions", "2",
                           "--processes", "1,2"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --processes 2 needs SALES_STATE_URL=postgresql://… (the processes share saved "
        "state there; without it only one process can open the file)"]
    assert not missing.exists()  # refused before building the bench database
    assert processes.state_problem([1, 2], {"SALES_STATE_URL": "postgresql://x/y"}) is None
    assert processes.state_problem([1], {}) is None


def test_arrivals_need_processes():
    done = subprocess.run([sys.executable, "-m", "bench", "--arrivals", "8"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.strip()) == (
        2, "error: --arrivals needs --processes (e.g. --processes 1,2)")


def test_two_processes_carry_the_sessions_the_wave_and_a_kill(demo_db, tmp_path):
    copies = []
    for name in ("a.duckdb", "b.duckdb"):
        shutil.copyfile(demo_db, tmp_path / name)
        copies.append(tmp_path / name)
    result = processes.measure_processes(copies, [4], [4], seconds=6, log_dir=tmp_path / "logs")
    json.dumps(result)  # what `bench --json` writes
    for figures in (result["sessions"]["4"], result["calm"]["sessions"]["4"]):
        assert {"p50_s", "p95_s", "max_s", "renders_per_s", "errors"} <= set(figures)
        assert figures["errors"] == 0 and figures["renders"] > 0
    assert (result["think_s"], result["calm"]["think_s"]) == (2.0, 10.0)
    # Four people arrive within 10 s: each first page is timed, and nothing failed.
    wave = result["arrivals"]["4"]
    assert wave["errors"] == 0 and wave["renders"] >= 4
    assert 0 < wave["first_render_p95_s"] <= wave["first_render_max_s"]
    # The first process killed halfway: its two people (sessions 0 and 2) rendered again on
    # the other, none lost, and no render failed beyond the drop the kill caused.
    recovery = result["recovery"]
    assert (recovery["sessions"], recovery["lost"], recovery["errors"]) == (2, 0, 0)
    assert 0 < recovery["p50_s"] <= recovery["max_s"]
    assert result["server_peak_rss_mb"] > 0


def test_a_moved_session_keeps_its_page_and_filters(demo_db, tmp_path):
    database = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, database)
    with load.serving(database) as server:
        async def run() -> tuple[str, list[str]]:
            first = load.Session(server.url)
            await first.open()
            await first.render("")
            segments = first.widgets["segment"][1]
            await first.render("inblood", {"segment": segments[:1]})
            await first.close()
            moved = first.moved_to(server.url)
            await moved.open()
            await moved.render()
            await moved.close()
            return moved.page, moved.filters["segment"]

        page, segment = asyncio.run(run())
    assert page == "inblood" and len(segment) == 1


def test_one_process_through_the_command_line(demo_db, tmp_path):
    # What `python -m bench --processes 1 --sessions 2 --arrivals 2` runs for its figures.
    database = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, database)
    done = subprocess.run([sys.executable, "-m", "bench.load", "--db", str(database),
                           "--sessions", "2", "--duration", "4", "--processes", "1",
                           "--arrivals", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    one = result["processes"]["1"]
    assert set(one) == {"think_s", "sessions", "calm", "arrivals", "server_peak_rss_mb"}
    assert one["sessions"]["2"]["errors"] == 0 and one["arrivals"]["2"]["errors"] == 0
    assert "recovery" not in one  # nothing to move to with one process
    assert (result["processes_duration_s"], result["arrival_window_s"]) == (4.0, 10.0)
    table = "\n".join(processes_table(result))
    assert "| 1 | 2 | 2 s |" in table and "| 1 | 2 | 10 s |" in table
