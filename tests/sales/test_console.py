"""The analysts' SQL: one read-only SELECT on a copy, no file access, a row cap, a time limit,
and it works while the app's read-write connection holds the file."""

from __future__ import annotations

import pytest

from sales import console
from sales.console import QueryRejected, run_query


@pytest.fixture
def held(metrics_con, tmp_path):
    """The metrics database, held open read-write as the app holds it."""
    metrics_con.execute("checkpoint")
    path = str(metrics_con.execute("select path from duckdb_databases() "
                                   "where database_name = current_database()").fetchone()[0])
    return path


def test_a_select_runs_while_the_app_holds_the_file(held):
    result = run_query(held, 1, "select count(*) as deals, sum(amount) as amount "
                                "from opportunities where stage = '7-Closed Won'")
    # conftest: D1 500, W1 100, W2 300, W3 999.
    assert result.frame.to_dict("records") == [{"deals": 4, "amount": 1899}]
    assert not result.truncated


@pytest.mark.parametrize("sql, message", [
    ("delete from opportunities", "only SELECT queries"),
    ("select 1; drop table targets", "one statement at a time"),
    ("copy opportunities to '/tmp/out.csv'", "only SELECT queries"),
    ("attach '/tmp/other.duckdb'", "only SELECT queries"),
    ("select * from read_csv('/etc/passwd')", "file system operations are disabled"),
    ("select nextval('forecast_call_ids')", "read-only"),
    ("selec 1", "not valid SQL"),
])
def test_anything_but_reading_is_refused(held, sql, message):
    with pytest.raises(QueryRejected, match=message):
        run_query(held, 1, sql)


def test_rows_are_capped_and_slow_queries_stopped(held):
    result = run_query(held, 1, "select * from range(50)", row_cap=10)
    assert len(result.frame) == 10 and result.truncated
    with pytest.raises(QueryRejected, match="stopped after 1 s"):
        run_query(held, 1, "select count(*) from range(200000000) a, range(1000) b "
                           "where (a.range * b.range) % 7 = 3", time_limit=1)


def test_the_copy_follows_the_data_version(held, metrics_con):
    # conftest: six targets (company, Enterprise, Mid-Market, three months of T1).
    assert run_query(held, 1, "select count(*) from targets").frame.iloc[0, 0] == 6
    metrics_con.execute("delete from targets")
    metrics_con.execute("checkpoint")
    assert run_query(held, 1, "select count(*) from targets").frame.iloc[0, 0] == 6  # same copy
    assert run_query(held, 2, "select count(*) from targets").frame.iloc[0, 0] == 0


def test_the_schema_is_documented(metrics_con):
    schema = console.schema_columns(metrics_con)
    tables = list(dict.fromkeys(schema.table_name))
    assert tables[:2] == ["opportunities", "opportunity_history"]
    assert set(console.TABLE_NOTES) <= set(tables)
    assert (schema.about != "").all()


def test_results_are_bounded_by_bytes_as_well_as_rows(held):
    # The reproduction at a tenth of its size: 2,000 rows of 100 kB are 200 MB, past
    # the byte cap long before the row cap; the page gets about the byte cap, and is told so.
    result = run_query(held, 1, "select repeat('x', 100000) as wide from range(2000)")
    assert 0 < len(result.frame) < 2000 and result.truncated
    assert len(result.frame) * 100_000 <= console.BYTE_CAP
    assert "50 MB" in result.cut and f"{len(result.frame):,} rows" in result.cut


def test_a_row_larger_than_the_byte_cap_is_not_returned(held):
    small = run_query(held, 1, "select repeat('x', 1000) as s from range(10)", byte_cap=2_500)
    assert len(small.frame) == 2 and small.truncated
    none = run_query(held, 1, "select repeat('x', 1000) as s from range(10)", byte_cap=500)
    assert none.frame.empty and list(none.frame.columns) == ["s"]
    assert "the first row alone" in none.cut


def test_types_the_page_shows_come_back_as_values(held):
    result = run_query(held, 1, """
        select 1::hugeint as big, 2.50::decimal(18, 2) as money, date '2026-11-20' as day,
               interval 3 day as span, [1, 2] as list, {'a': 1} as struct, 'x'::blob as raw,
               uuid '00000000-0000-0000-0000-000000000001' as id, null as nothing""")
    row = result.frame.iloc[0]
    assert row["big"] == 1 and float(row["money"]) == 2.5 and str(row["day"])[:10] == "2026-11-20"
    assert result.cut is None and not result.truncated


@pytest.mark.slow
def test_the_sql_page_says_what_it_cut(held, monkeypatch):
    from tests.helpers import page

    monkeypatch.setenv("SALES_DB", held)
    at = page("data_sql.py")
    at.text_area(key="sql_text").input("select repeat('x', 100000) as wide from range(2000)")
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert any("50 MB" in c.value for c in at.caption)
