"""The deals laid out by close date: a table written in another order is found scattered and
written again in close-date order with the same rows; one in order is left as it is; an import
or a sync (`settle`) does both checks and then stores the default view's intermediates."""

from __future__ import annotations

import pytest

from sales import layout, precomputed
from sales.db import connect, data_version

# More than two of DuckDB's row groups (122,880 rows each), so there are ranges to compare.
DEALS = 300_000


CLOSE = "date '2024-01-01' + ((i * 7919) % 1461)::integer"  # spread over four years


def _fill(con, order: str) -> None:
    """DEALS deals closing over four years, inserted in `order` (SQL over i; the table keeps
    the insertion order)."""
    con.execute(f"""insert into opportunities (opportunity_id, stage, amount, close_date)
                    select 'OPP-' || lpad(i::varchar, 7, '0'), '1-Discovery', i % 1000, {CLOSE}
                    from range({DEALS}) t(i) order by {order}""")


def _fingerprint(con) -> tuple:
    return con.execute("""select count(*), sum(amount), sum(hash(opportunity_id, close_date))
                          from opportunities""").fetchone()


@pytest.mark.slow  # 300,000 deals written twice: 5 s
def test_a_table_in_another_order_is_laid_out_again_with_the_same_rows(tmp_path):
    con = connect(tmp_path / "scattered.duckdb")
    _fill(con, "i")  # by id: every row group holds close dates from all four years
    before, version = _fingerprint(con), data_version(con)
    # Three row groups, each spanning nearly the whole range, against 2/3 allowed.
    assert layout.span_share(con) == (pytest.approx(1.0, abs=0.01), 3)
    assert layout.scattered(con)
    layout.lay_out(con)
    # In close-date order, 300,000 deals over 1,461 days: about a third of the range each.
    assert layout.span_share(con) == (pytest.approx(1 / 3, abs=0.02), 3)
    assert not layout.scattered(con)
    assert _fingerprint(con) == before
    assert data_version(con) == version  # the same data: nothing a cache keys on moves
    con.close()


def test_a_table_in_close_date_order_is_left_alone(tmp_path):
    con = connect(tmp_path / "ordered.duckdb")
    _fill(con, CLOSE)
    assert not layout.scattered(con)
    con.close()


def test_one_row_group_has_nothing_to_skip(tmp_path):
    con = connect(tmp_path / "small.duckdb")
    con.execute("""insert into opportunities (opportunity_id, stage, close_date)
                   values ('A', '1-Discovery', date '2029-01-01'),
                          ('B', '1-Discovery', date '2024-01-01')""")
    assert layout.span_share(con) is None and not layout.scattered(con)
    con.close()


@pytest.mark.slow
def test_settle_lays_out_then_stores_the_intermediates(tmp_path):
    con = connect(tmp_path / "settle.duckdb")
    _fill(con, "i")
    said = []
    layout.settle(con, said.append)
    assert said[0] == "laying the deals out by close date (once)"
    assert not layout.scattered(con)
    assert precomputed.stored_keys(con)  # the default view's, at this data version
    said.clear()
    layout.settle(con, said.append)
    assert not any("laying" in message for message in said)  # once
    con.close()
