"""Schema versions: new files get the latest; older files upgrade in place, keeping user data."""

import pytest

from sales.db import bump_data_version, connect, data_version, write_transaction
from sales.schema import MIGRATIONS, SCHEMA_VERSION, schema_version, upgrade
from sales.settings import load_settings, save_setting


def test_new_file_is_at_the_latest_version(tmp_path):
    con = connect(tmp_path / "new.duckdb")
    assert schema_version(con) == SCHEMA_VERSION
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    assert {"opportunities", "opportunity_history", "snapshot_dates", "opportunity_snapshots",
            "stage_map", "loss_reason_map", "targets", "forecast_calls",
            "forecast_call_decisions", "submissions", "settings", "meta"} <= tables


def test_upgrade_keeps_what_users_saved(tmp_path):
    path = tmp_path / "old.duckdb"
    con = connect(path)
    save_setting(con, "fiscal_year_start_month", 2)
    con.execute("insert into targets values ('FY2027-Q4', 'company', '', 1000)")
    con.execute("insert into forecast_calls (period, call_date, saved_at, saved_by) "
                "values ('FY2027-Q4', '2026-11-16', now(), 'Lee')")
    con.execute("update stage_map set forecast_category = 'Best Case' where stage = '4-Proposal'")
    con.close()

    def add_column(c):
        c.execute("alter table forecast_calls add column if not exists locked boolean")

    con = connect(path)  # reopening at the same version changes nothing
    assert upgrade(con, [*MIGRATIONS, add_column]) == SCHEMA_VERSION + 1
    assert schema_version(con) == SCHEMA_VERSION + 1
    assert load_settings(con).fiscal_year_start_month == 2
    assert con.execute("select amount from targets").fetchone()[0] == 1000
    assert con.execute("select saved_by, locked from forecast_calls").fetchall() == [("Lee", None)]
    # A user's edit of a shipped default survives: upgrades insert defaults only when missing.
    assert con.execute("select forecast_category from stage_map where stage = '4-Proposal'"
                       ).fetchone()[0] == "Best Case"


def test_a_failed_upgrade_step_changes_nothing(tmp_path):
    con = connect(tmp_path / "x.duckdb")

    def broken(c):
        c.execute("create table half_done (x int)")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        upgrade(con, [*MIGRATIONS, broken])
    assert schema_version(con) == SCHEMA_VERSION
    assert not con.execute("select count(*) from information_schema.tables "
                           "where table_name = 'half_done'").fetchone()[0]


def test_a_newer_file_is_refused_with_a_clear_message(tmp_path):
    con = connect(tmp_path / "future.duckdb")
    con.execute("update meta set value = '99' where key = 'schema_version'")
    with pytest.raises(RuntimeError, match="newer than this code"):
        upgrade(con)


def test_write_transaction_is_all_or_nothing_and_bumps_the_data_version(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    before = data_version(con)
    with pytest.raises(ValueError), write_transaction(con) as cur:
        cur.execute("insert into targets values ('FY2027-Q1', 'company', '', 5)")
        raise ValueError("validation failed half-way")
    assert con.execute("select count(*) from targets").fetchone()[0] == 0
    assert data_version(con) == before
    with write_transaction(con) as cur:
        cur.execute("insert into targets values ('FY2027-Q1', 'company', '', 5)")
    assert data_version(con) == before + 1
    bump_data_version(con)
    assert data_version(con) == before + 2
