"""`python -m sales state migrate`: to PostgreSQL and back, every state table exactly; the
password never shown."""

import shutil

import duckdb
import psycopg
import pytest

from bench.load import free_port
from sales.cli import main
from sales.state.tables import STATE_TABLES, state_schema
from tests.helpers import open_database


def _state(path) -> dict[str, list[tuple]]:
    con = open_database(path)
    try:
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr)  # noqa: S608
                for t in STATE_TABLES}
    finally:
        con.close()


def _with_every_kind_of_value(path) -> None:
    """The demo leaves some state tables empty: give each of those rows with the awkward values
    (lists, quotes, commas, newlines, empty strings, nulls) a round trip must keep."""
    con = duckdb.connect(str(path))
    con.execute("""
        insert into access values
            ('a@x.com', 'manager', ['T1', 'Team "B", west'], [], ['O''Neil'], 'admin', '2026-11-20 09:00:00.123456'),
            ('b@x.com', 'viewer', [], ['EMEA'], [], 'admin', '2026-11-21 10:00:00');
        insert into settings values ('coverage_multiple', '3.5');
        insert into delivery_log values
            ('r1', 'digest', 'email', 'a@x.com', '2026-11-20 08:00:00', false, 0, 'line one
line two, "quoted"', ''),
            ('r1', 'digest', 'email', 'a@x.com', '2026-11-20 08:00:00', false, 0, 'line one
line two, "quoted"', '');
        insert into alerts_sent values ('a@x.com', 'D1', 'slipped', '', '2026-11-20 08:00:00', 'r1');
        insert into currency_rates values ('2026-11-01', 'EUR', 0.912345678, true, '2026-11-01', '2026-12-01');
        insert into submissions values ('FY2026-Q4', 'Ann', '2026-11-20', 100.25, 0);
        insert into people_call_deals values (1, 'D1');""")  # noqa: E501 - rows read best whole
    con.close()


@pytest.mark.slow
def test_migrate_to_postgres_and_back_round_trips_every_state_table(demo_db, postgres_url,
                                                                    tmp_path, capsys):
    source = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, source)
    _with_every_kind_of_value(source)
    before = _state(source)
    assert all(before[t] for t in STATE_TABLES), [t for t in STATE_TABLES if not before[t]]

    assert main(["state", "migrate", "--to", postgres_url, "--db", str(source)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Copied the state from {source} to {postgres_url}: ")
    assert f"forecast_call_decisions {len(before['forecast_call_decisions']):,}" in out

    back = tmp_path / "back.duckdb"
    shutil.copyfile(demo_db, back)
    con = duckdb.connect(str(back))
    con.execute("delete from targets; delete from access")  # the copy back must replace these
    con.close()
    assert main(["state", "migrate", "--to", str(back), "--from", postgres_url]) == 0
    assert _state(back) == before
    # The next id follows the largest one brought back.
    con = duckdb.connect(str(back))
    largest = con.execute("select max(call_id) from forecast_calls").fetchone()[0]
    assert con.execute("select nextval('forecast_call_ids')").fetchone()[0] == largest + 1
    con.close()


def test_migrate_to_a_new_file_holds_only_the_state(shared_demo, tmp_path):
    _, url = shared_demo
    fresh = tmp_path / "state-only.duckdb"
    assert main(["state", "migrate", "--to", str(fresh)]) == 0  # --from: $SALES_STATE_URL
    con = duckdb.connect(str(fresh), read_only=True)
    assert con.execute("select count(*) from targets").fetchone()[0] > 0
    assert con.execute("select count(*) from opportunities").fetchone()[0] == 0
    con.close()


@pytest.mark.parametrize("where", ["a role the store refuses", "no server at all"])
def test_a_password_in_the_url_never_shows(where, demo_db, postgres, tmp_path, capsys):
    # The store refuses the role (it may not create tables), or nothing listens on the port:
    # either way the one-line message names the store with the password replaced.
    url = postgres.new_database()
    role = url.rsplit("/", 1)[1]  # a new name per test: roles are the server's, not a database's
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"create role {role} login password 'right'")
    wrong = url.replace(f"{postgres.user}@", f"{role}:s3cr3t-pw@")
    if where == "no server at all":
        wrong = wrong.replace(f":{postgres.port}/", f":{free_port()}/")
    source = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, source)
    assert main(["state", "migrate", "--to", wrong, "--db", str(source)]) == 2
    assert main(["state", "migrate", "--to", str(tmp_path / "b.duckdb"), "--from", wrong]) == 2
    captured = capsys.readouterr()
    assert "s3cr3t-pw" not in captured.out + captured.err
    assert captured.err.count(f"{role}:***@") == 2 and captured.err.count("\n") == 2


def test_migrate_without_a_source_says_what_to_give(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SALES_STATE_URL", raising=False)
    assert main(["state", "migrate", "--to", str(tmp_path / "x.duckdb")]) == 2
    assert "--from postgresql://" in capsys.readouterr().err


def test_state_tables_are_every_table_people_write():
    # The allow-list names tables our schema has, and PostgreSQL gets a type for each column.
    schema = state_schema()
    assert set(schema.columns) == set(STATE_TABLES)
    assert all(c.pg_type for columns in schema.columns.values() for c in columns)
