"""The file read-only beside PostgreSQL's state: saves, imports and the command line in state
mode, against a real PostgreSQL."""

import json
import subprocess
import sys
import threading
from datetime import date, datetime

import psycopg
import pytest

from sales.calls import save_call
from sales.cli import main
from sales.db import open_for_reading, swap_in
from sales.followups import add_follow_up
from sales.periods import parse_period
from sales.schema import SCHEMA_VERSION
from sales.settings import load_settings, save_setting
from sales.state.replica import Replica
from sales.state.store import StateStoreError, Store, _create
from sales.state.tables import STATE_TABLES, state_schema
from sales.view import View
from tests.helpers import ROOT

VIEW = View(parse_period("FY2026-Q4"), date(2026, 11, 20))


def _state(con) -> dict[str, list[tuple]]:
    return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr)  # noqa: S608
            for t in STATE_TABLES}


@pytest.mark.slow
def test_a_save_through_one_connection_is_seen_by_an_independent_reader(shared_demo):
    path, url = shared_demo
    writer, reader = Replica(path, Store(url)), Replica(path, Store(url))
    calls = reader.con.execute("select count(*) from forecast_calls").fetchone()[0]
    with writer.writing() as tx:
        call = save_call(tx, VIEW, load_settings(tx), None, {}, "Ann",
                         saved_at=datetime(2026, 11, 20, 10))
        save_setting(tx, "coverage_multiple", 4.5)
        item = add_follow_up(tx, VIEW, "Call the buyer", "Bob", date(2026, 11, 27), None, "Ann")

    assert reader.refresh(blocking=True)
    assert reader.state_version == writer.state_version
    assert reader.con.execute("select count(*) from forecast_calls").fetchone()[0] == calls + 1
    assert load_settings(reader.con).coverage_multiple == 4.5
    assert reader.con.execute("select text from follow_ups where follow_up_id = ?",
                              [item]).fetchone() == ("Call the buyer",)
    decisions = "select count(*) from forecast_call_decisions where call_id = ?"
    assert (reader.con.execute(decisions, [call]).fetchone()
            == writer.con.execute(decisions, [call]).fetchone())
    assert _state(reader.con) == _state(writer.con)
    # And so does a connection opened afresh (the command line's), and another process.
    assert _state(open_for_reading(path)) == _state(writer.con)
    other = subprocess.run([sys.executable, "-c", "import sys; from sales.db import open_current; "
                            "from sales.settings import load_settings; "
                            "print(load_settings(open_current(sys.argv[1])).coverage_multiple)",
                            str(path)], cwd=ROOT, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == "4.5"


def test_a_write_that_changes_nothing_keeps_the_version(shared_demo):
    path, url = shared_demo
    replica = Replica(path, Store(url))
    version = replica.state_version
    with replica.writing() as tx:
        tx.execute("select count(*) from targets").fetchall()
    assert replica.state_version == version


def test_an_import_keeps_every_state_table_and_may_add_to_it(shared_demo):
    path, url = shared_demo
    replica = Replica(path, Store(url))
    with replica.writing() as tx:
        save_setting(tx, "coverage_multiple", 5)
    before = _state(replica.con)

    def build(cur):  # an import: new deal amounts, and one line of its own in the audit trail
        cur.execute("update opportunities set amount = amount + 1")
        cur.execute("insert into audit_log (happened_at, who, action, summary) "
                    "values ('2026-11-21 08:00:00', 'importer', 'import', 'deals')")

    swap_in(path, build)
    after = _state(open_for_reading(path))
    added = [row for row in after["audit_log"] if row[2] == "importer"]
    assert len(added) == 1
    after["audit_log"].remove(added[0])
    assert after == before
    # The file's own copy of the state is PostgreSQL's as of the import.
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    assert load_settings(con).coverage_multiple == 5
    con.close()


@pytest.mark.slow
def test_the_command_line_report_reads_postgresqls_state(shared_demo, capsys):
    path, url = shared_demo
    args = ["report", "--db", str(path), "--period", "FY2026-Q4", "--format", "json"]
    assert main(args) == 0
    target = json.loads(capsys.readouterr().out)["target"]
    with psycopg.connect(url) as pg:  # a change made in PostgreSQL by another process
        pg.execute("update targets set amount = amount + 1000 "
                   "where period = 'FY2026-Q4' and scope = 'company'")
        pg.execute("update sales_state_meta set value = (value::bigint + 1)::text "
                   "where key = 'state_version'")
        pg.execute("insert into sales_state_versions (state_version, tables, everything) "
                   "select value::bigint, '{targets}', true from sales_state_meta "
                   "where key = 'state_version'")
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["target"] == target + 1000


@pytest.mark.slow
def test_two_writers_at_once_lose_nothing(shared_demo):
    path, url = shared_demo
    replicas = [Replica(path, Store(url)), Replica(path, Store(url))]
    start = replicas[0].con.execute("select count(*) from audit_log").fetchone()[0]

    def write(replica, who):
        for n in range(8):
            with replica.writing() as tx:
                tx.execute("insert into audit_log (happened_at, who, action, summary) "
                           "values (now(), ?, 'test', ?)", [who, str(n)])

    threads = [threading.Thread(target=write, args=(r, f"w{i}")) for i, r in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = Replica(path, Store(url))
    rows = fresh.con.execute("select audit_id, who from audit_log").fetchall()
    assert len(rows) == start + 16
    assert len({audit_id for audit_id, _ in rows}) == len(rows)  # ids never reused
    assert sum(who in ("w0", "w1") for _, who in rows) == 16


def test_a_store_of_a_newer_schema_is_refused(postgres_url, shared_demo):
    path, url = shared_demo
    with psycopg.connect(url) as pg:
        pg.execute("update sales_state_meta set value = %s where key = 'schema_version'",
                   [str(SCHEMA_VERSION + 1)])
    with pytest.raises(StateStoreError, match="newer than this code"):
        Replica(path, Store(url))


def test_a_store_of_an_older_schema_is_upgraded_keeping_its_rows(postgres_url):
    older = SCHEMA_VERSION - 1
    with psycopg.connect(postgres_url) as pg:
        _create(pg, state_schema(older))
        pg.execute("insert into sales_state_meta values ('schema_version', %s), "
                   "('state_version', '3')", [str(older)])
        pg.execute("insert into targets values ('FY2026-Q4', 'company', '', 1234.5)")
    with Store(postgres_url).transaction() as pg:
        assert pg.execute("select value from sales_state_meta where key = 'schema_version'"
                          ).fetchone() == (str(SCHEMA_VERSION),)
        assert pg.execute("select amount from targets").fetchall() == [(1234.5,)]
        columns = {name for (name,) in pg.execute(
            "select column_name from information_schema.columns where table_schema = 'public'")}
        newest = {c.name for cs in state_schema().columns.values() for c in cs}
        assert newest <= columns


def test_the_file_is_only_read_while_serving(shared_demo):
    # Another process can open the file read-only beside an open replica (a writer could not).
    path, url = shared_demo
    Replica(path, Store(url))
    subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], "
                    "read_only=True).execute('select count(*) from opportunities')", str(path)],
                   check=True)


def test_a_grant_from_the_command_line_goes_to_postgresql_leaving_the_file_alone(shared_demo):
    from sales.db import file_identity

    path, url = shared_demo
    identity, size = file_identity(path), path.stat().st_size
    assert main(["access", "grant", "Lead@Example.com", "--role", "analyst",
                 "--db", str(path)]) == 0
    assert (file_identity(path), path.stat().st_size) == (identity, size)
    with psycopg.connect(url) as pg:
        assert pg.execute("select role from access where email = 'lead@example.com'"
                          ).fetchall() == [("analyst",)]
        assert pg.execute("select count(*) from audit_log where summary like '%lead@example.com%'"
                          ).fetchone()[0] == 1


def test_report_in_another_currency_reads_postgresqls_state(shared_demo, capsys):
    # Rates and a target written to PostgreSQL only; the report in GBP converts PostgreSQL's
    # target: 0.5 GBP per USD, so the company target reads half.
    path, url = shared_demo
    replica = Replica(path, Store(url))
    with replica.writing() as tx:
        tx.execute("insert into currency_rates values "
                   "('2026-01-01', 'USD', 1, false, '1900-01-01', '9999-12-31'), "
                   "('2026-01-01', 'GBP', 0.5, false, '1900-01-01', '9999-12-31')")
        tx.execute("update targets set amount = 2000000 where period = 'FY2026-Q4' "
                   "and scope = 'company'")
    assert main(["report", "--db", str(path), "--period", "FY2026-Q4", "--format", "json",
                 "--currency", "GBP"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["currency"], shown["target"]) == ("GBP", 1_000_000)


def test_identical_rows_are_counted_one_by_one(shared_demo):
    # delivery_log has no key: two identical rows, then one of them removed, leaves one in
    # PostgreSQL and in every other process's copy.
    path, url = shared_demo
    writer, reader = Replica(path, Store(url)), Replica(path, Store(url))
    row = "('r9', 'digest', 'email', 'a@x.com', '2026-11-20 08:00:00', true, 0, '', '')"
    with writer.writing() as tx:
        tx.execute(f"insert into delivery_log values {row}, {row}")  # noqa: S608
    with writer.writing() as tx:
        tx.execute("delete from delivery_log where rowid = (select min(rowid) from delivery_log "
                   "where run_id = 'r9')")
    reader.refresh(blocking=True)
    count = "select count(*) from delivery_log where run_id = 'r9'"
    assert writer.con.execute(count).fetchone() == reader.con.execute(count).fetchone() == (1,)
    with psycopg.connect(url) as pg:
        assert pg.execute(count).fetchone() == (1,)


def test_a_migrated_file_keeps_its_stored_intermediates_answering(shared_demo):
    """`state migrate --to postgresql://` copies the very state the demo's stored tables were
    built from, so they answer at PostgreSQL's state version at once (before, a moved file's
    first renders rebuilt them all until its next import)."""
    from sales import precomputed

    path, url = shared_demo  # the demo (its intermediates stored), its state just migrated
    replica = Replica(path, Store(url))
    wanted = list(precomputed.defaults(replica.con))
    assert wanted and all(precomputed.load(replica.con, b, a) is not None for b, a in wanted)


def test_stored_intermediates_answer_only_at_the_state_they_were_built_from(shared_demo):
    """With the state in PostgreSQL a saved setting or map does not move the file's data
    version, so the intermediates an import stores (sales.precomputed) must also be keyed on
    the state version: a state write retires them, the next import stores them again."""
    from sales import precomputed

    path, url = shared_demo
    swap_in(path, lambda cur: None, after=precomputed.refresh)  # an import in state mode
    replica = Replica(path, Store(url))
    wanted = list(precomputed.defaults(replica.con))
    assert all(precomputed.load(replica.con, b, a) is not None for b, a in wanted)

    with replica.writing() as tx:  # a stage-map edit would change what they hold
        save_setting(tx, "coverage_multiple", 4.5)
    assert all(precomputed.load(replica.con, b, a) is None for b, a in wanted)
    other = Replica(path, Store(url))  # so does every other process, at the new state
    assert all(precomputed.load(other.con, b, a) is None for b, a in wanted)

    swap_in(path, lambda cur: None, after=precomputed.refresh)
    assert other.refresh(blocking=True)
    other.attach()  # the new file (the app re-attaches on its swap)
    assert all(precomputed.load(other.con, b, a) is not None for b, a in wanted)
