"""The current state read from the opportunities table equals the latest snapshot's picture."""

import pytest

from sales.db import connect
from sales.periods import parse_period
from sales.query import deals_sql, latest_snapshot, state_key
from sales.rollup import rollup_at
from sales.view import Filters, View
from tests.helpers import d


@pytest.mark.parametrize("filters", [Filters(), Filters.of(segment="SMB"),
                                     Filters.of(owner=["Dana Whitfield", "Lukas Brandt"],
                                                type="Renewal")])
def test_fast_path_matches_the_history(demo_db, filters):
    con = connect(demo_db)
    latest = latest_snapshot(con)
    assert state_key(con, latest) is None  # today's view reads the opportunities table
    assert state_key(con, d("2026-10-01")) is not None
    columns = "opportunity_id, stage, category, amount, close_date, owner, segment, won"
    rows = [con.execute(f"select {columns} from ({deals}) order by 1", dict(deals.params)).fetchall()
            for deals in (deals_sql(None, filters), deals_sql(latest, filters))]
    assert rows[0] == rows[1] and len(rows[0]) > 0


def test_rollup_on_past_dates_matches_the_state_then(demo_db):
    from sales.rollup import category_rollup

    con = connect(demo_db)
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"), Filters.of(segment="Enterprise"))
    days = [d("2026-10-09"), d("2026-10-30"), d("2026-11-20")]
    table = rollup_at(con, view, days).set_index("day")
    for day in days:
        expected = category_rollup(con, View(view.period, day, view.filters))
        for category, measure in expected.items():
            assert table.loc[day, category] == pytest.approx(measure.amount)


def test_the_app_reads_the_data_version_once_until_something_writes(tmp_path):
    # A page makes a dozen cached queries, each keyed by the data version: it is read once and
    # held until this process writes, or an import swaps a new file in.
    import shutil

    from sales.db import data_version, write_transaction
    from ui.state import SharedConnection

    path = tmp_path / "v.duckdb"
    connect(path).close()
    shared = SharedConnection(str(path))
    first = shared.version()
    with shared.reading() as cur:  # a write that bypasses `writing`…
        with write_transaction(cur):
            pass
        cur.execute("checkpoint")
    assert shared.version() == first  # …is not seen: the held version stands
    shared.known_version = None
    assert shared.version() == first + 1
    # An import builds a new file and swaps it in: a new inode, so the version is read again.
    other = tmp_path / "other.duckdb"
    shutil.copyfile(path, other)
    with connect(other) as con, write_transaction(con):
        pass
    shared.con.close()
    other.replace(path)
    assert shared.version() == first + 2
    with shared.reading() as cur:
        assert data_version(cur) == first + 2


def test_a_selection_keeps_the_rows_of_a_held_table():
    import pandas as pd

    frame = pd.DataFrame({"segment": ["SMB", "SMB", "Enterprise"], "owner": ["Ann", "Bob", "Ann"],
                          "amount": [1, 2, 3]})
    assert Filters().keep(frame)["amount"].tolist() == [1, 2, 3]  # no selection: everything
    assert Filters.of(segment="SMB", owner="Ann").keep(frame)["amount"].tolist() == [1]
    assert Filters.of(owner=["Ann", "Bob"]).keep(frame)["amount"].tolist() == [1, 2, 3]


def test_the_owner_picker_lists_past_owners_of_the_scopes_deals_only(tmp_path):
    from sales.query import distinct_values
    from tests.helpers import seed

    prop = "4-Proposal"
    deals = [dict(id="A", stage=prop, category="Commit", amount=100, close="2026-12-01",
                  owner="Ann", team="T1"),
             dict(id="B", stage=prop, category="Commit", amount=200, close="2026-12-01",
                  owner="Cy", team="T2")]
    # A was Bob's and B was Dee's at the first snapshot; both changed hands by the second.
    con = connect(tmp_path / "owners.duckdb")
    seed(con, deals, {d("2026-11-13"): [("A", prop, "Commit", 100, "2026-12-01", "Bob"),
                                        ("B", prop, "Commit", 200, "2026-12-01", "Dee")],
                      d("2026-11-20"): [("A", prop, "Commit", 100, "2026-12-01", "Ann"),
                                        ("B", prop, "Commit", 200, "2026-12-01", "Cy")]})
    # Now Ann and Cy, before them Bob and Dee: all four; T1's deal A only Ann and Bob.
    assert distinct_values(con, "owner") == ["Ann", "Bob", "Cy", "Dee"]
    assert distinct_values(con, "owner", Filters.of(team="T1")) == ["Ann", "Bob"]
    # A scope with no deal lists nobody, not every past owner.
    assert distinct_values(con, "owner", Filters.of(team="T9")) == []
    con.close()
