"""The app's connection with the state in PostgreSQL: the file read-only, caches keyed by the
state version too, and another process's save visible within a second."""

import shutil
import time

import pytest

from sales.cli import main
from sales.settings import load_settings, save_setting
from ui import state


@pytest.fixture
def shared(demo_db, postgres_url, tmp_path, monkeypatch):
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    assert main(["state", "migrate", "--to", postgres_url, "--db", str(path)]) == 0
    monkeypatch.setenv("SALES_STATE_URL", postgres_url)
    return str(path)


def test_a_save_in_one_process_shows_in_another_within_a_second(shared):
    # Two app processes: each its own connection (as `_shared` gives one per process).
    one, two = state.SharedConnection(shared), state.SharedConnection(shared)
    assert one.replica is not None and two.replica is not None
    seen = two.version()
    assert isinstance(seen, tuple) and seen[0] == one.version()[0]  # (data, state) versions
    with one.replica.writing() as tx:
        save_setting(tx, "coverage_multiple", 6)
    saved = time.monotonic()
    while two.version() == seen:
        assert time.monotonic() - saved < 1.0, "not visible within the 1 s budget"
        time.sleep(0.01)
    with two.reading() as cur:
        assert load_settings(cur).coverage_multiple == 6


def test_the_version_is_looked_up_at_most_every_quarter_second(shared, monkeypatch):
    con = state.SharedConnection(shared)
    polls = []
    real = con.store.poll_version
    monkeypatch.setattr(con.store, "poll_version", lambda: polls.append(1) or real())
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        con.version()
    assert 1 <= len(polls) <= 3  # a render asks dozens of times; PostgreSQL hears of it twice


def test_a_swapped_file_is_attached_again_keeping_the_state(shared):
    con = state.SharedConnection(shared)
    with con.replica.writing() as tx:
        save_setting(tx, "coverage_multiple", 7)
    from sales.db import swap_in

    swap_in(shared, lambda cur: cur.execute("delete from opportunities where amount < 1000"))
    with con.reading() as cur:
        assert load_settings(cur).coverage_multiple == 7
        assert cur.execute("select count(*) from opportunities where amount < 1000"
                           ).fetchone() == (0,)
