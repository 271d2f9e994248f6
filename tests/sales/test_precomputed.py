"""The default view's intermediates stored in the file: equal to what a view builds, stored by a
demo build and by anything written through `swap_in(after=refresh)` (imports, CRM syncs),
retired by any later write, and left out of the display-currency copy."""

from __future__ import annotations

import shutil
from decimal import Decimal

from sales import backtest, precomputed
from sales.currency import display_database
from sales.db import connect, data_version, is_precomputed_table, swap_in, write_transaction
from tests.helpers import private_copy


def _rows(table) -> list:
    """A table's rows in a fixed order, floats to 6 places: row order and the last bits of a
    parallel sum are not part of a build's answer (every reader groups and sums)."""
    def value(v):
        return round(v, 6) if isinstance(v, float) else v

    rows = [tuple(value(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(rows, key=repr)


def test_every_stored_intermediate_is_the_one_a_view_builds(demo_db, tmp_path):
    con = private_copy(demo_db, tmp_path)
    wanted = list(precomputed.defaults(con))
    # Changed deals, open-deal facts, first-qualified deals, the roll-up's amounts now and at
    # the last call, MQL leads (the demo has leads), the coverage trend's events, the backtest
    # cubes of quarters and of months.
    assert [b.__qualname__ for b, _ in wanted] == [
        "changed_deals", "open_deal_facts", "first_qualified", "amounts_cube", "amounts_cube",
        "mql_leads", "trend_events", "cube", "cube"]
    assert set(precomputed.stored_keys(con)) == {precomputed.key(b, a) for b, a in wanted}
    assert set(precomputed.stored_keys(con).values()) == {data_version(con)}
    for build, args in wanted:
        stored, built = precomputed.load(con, build, args), build(con, *args)
        assert stored is not None, build.__qualname__
        assert stored.schema == built.schema, build.__qualname__
        assert stored.num_rows > 0 or build.__qualname__ == "first_qualified"
        assert _rows(stored) == _rows(built), build.__qualname__


def test_a_later_write_retires_them_and_a_refresh_stores_them_again(demo_db, tmp_path):
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    con = connect(path)
    wanted = list(precomputed.defaults(con))
    with write_transaction(con):  # a saved call, an edited map: the data version moves on
        pass
    assert all(precomputed.load(con, b, a) is None for b, a in wanted)
    assert precomputed.refresh(con) == len(wanted)
    assert all(precomputed.load(con, b, a) is not None for b, a in wanted)
    assert set(precomputed.stored_keys(con).values()) == {data_version(con)}
    con.close()


def test_a_swap_stores_them_at_the_new_version(demo_db, tmp_path):
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    before = connect(path)
    version = data_version(before)
    before.close()
    swap_in(path, lambda cur: None, after=precomputed.refresh)  # what imports and syncs do
    con = connect(path)
    assert set(precomputed.stored_keys(con).values()) == {version + 1} == {data_version(con)}
    assert all(precomputed.load(con, b, a) is not None for b, a in precomputed.defaults(con))
    con.close()


def test_a_file_without_them_answers_none(empty_db):
    con = connect(empty_db)
    assert precomputed.stored_keys(con) == {}
    assert precomputed.load(con, backtest.cube, ((), None, 4)) is None
    con.close()


def test_the_display_currency_copy_leaves_them_out(demo_db, tmp_path):
    """Their amounts are in the corporate currency: the converted copy builds its own."""
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, path)
    shown = display_database(str(path), Decimal("2"))
    names = {r[0] for r in shown.execute(
        "select view_name from duckdb_views() where database_name = current_database()"
    ).fetchall()}
    assert "opportunities" in names  # what the copy reads, a view over the file's table
    assert not any(is_precomputed_table(n) for n in names)
    assert all(precomputed.load(shown, b, a) is None for b, a in precomputed.defaults(shown))


def test_the_lead_review_reads_the_stored_mql_leads_in_place_to_the_same_answer(demo_db,
                                                                                tmp_path):
    """The stored MQL leads queried where they lie give the numbers the loaded ones give."""
    from dataclasses import replace

    from pandas.testing import assert_frame_equal

    from sales import leads
    from sales.lead_snapshots import lead_state_key
    from sales.query import state_key
    from sales.view import Filters

    con = private_copy(demo_db, tmp_path)
    view = precomputed.default_view(con)
    args = (lead_state_key(con, view.as_of), state_key(con, view.as_of))
    name = precomputed.stored_table(con, leads.mql_leads, args)
    assert name is not None and is_precomputed_table(name)
    loaded = precomputed.load(con, leads.mql_leads, args)
    for filters in (Filters(), Filters.of(segment=("SMB",)), Filters.of(region=("EMEA",))):
        shown = replace(view, filters=filters)
        in_place, held = (leads.lead_review(con, shown, None, h) for h in (name, loaded))
        assert in_place.summary == held.summary and in_place.past_totals == held.past_totals
        assert in_place.funnel == held.funnel
        assert_frame_equal(in_place.comparison, held.comparison)
        assert_frame_equal(in_place.deals, held.deals)
    assert_frame_equal(leads.lead_review(con, view, None, name).comparison,
                       leads.lead_review(con, view, None, None).comparison)
    con.close()
