"""Sharing the file between the app and other processes: lock, swap, reopen."""

import hashlib
import threading

import pytest

from sales.db import DatabaseBusy, connect, file_identity, file_lock, swap_in
from ui.state import SharedConnection


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_company_target(amount):
    def build(cur):
        cur.execute("insert or replace into targets values ('FY2027-Q1', 'company', '', ?)",
                    [amount])
        return amount
    return build


def test_swap_in_replaces_the_file_atomically(tmp_path):
    path = tmp_path / "db.duckdb"
    connect(path).close()
    before = file_identity(path)
    assert swap_in(path, add_company_target(10)) == 10
    assert file_identity(path) != before  # a new file, so open readers keep the old one
    con = connect(path)
    assert con.execute("select amount from targets").fetchone()[0] == 10
    assert not (tmp_path / "db.duckdb.building").exists()


def test_a_failing_build_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "db.duckdb"
    swap_in(path, add_company_target(10))
    before = digest(path)

    def broken(cur):
        cur.execute("delete from targets")
        raise ValueError("row 7: negative amount")

    with pytest.raises(ValueError, match="negative amount"):
        swap_in(path, broken)
    assert digest(path) == before
    assert not (tmp_path / "db.duckdb.building").exists()


def test_the_lock_makes_a_second_writer_wait_then_give_up(tmp_path):
    path = tmp_path / "db.duckdb"
    held, release = threading.Event(), threading.Event()

    def hold():
        with file_lock(path):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    with pytest.raises(DatabaseBusy, match="another process"), file_lock(path, timeout=0.2):
        pass
    release.set()
    thread.join()
    with file_lock(path, timeout=0.2):
        pass


def test_the_app_connection_reopens_after_a_swap(tmp_path):
    path = tmp_path / "db.duckdb"
    swap_in(path, add_company_target(10))
    shared = SharedConnection(str(path))
    with shared.reading() as cur:
        assert cur.execute("select amount from targets").fetchone()[0] == 10
    swap_in(path, add_company_target(20))
    with shared.reading() as cur:
        assert cur.execute("select amount from targets").fetchone()[0] == 20


def test_a_private_copy_names_the_file_it_was_taken_from(tmp_path):
    from sales.db import open_for_reading, source_file

    path = tmp_path / "db.duckdb"
    writer = connect(path)  # held for writing in this process: a reader gets a copy
    reader = open_for_reading(path)
    copy = reader.execute("select path from duckdb_databases() "
                          "where database_name = current_database()").fetchone()[0]
    assert copy != str(path) and source_file(copy) == path.resolve()
    assert source_file(path) == path  # a file read in place is itself
    reader.close()
    writer.close()
