"""Change-based snapshot storage: every recorded picture reads back exactly."""

import pandas as pd

from sales.db import connect
from sales.snapshots import STATE_COLUMNS, record_snapshot
from tests.helpers import d


def picture(*rows):
    frame = pd.DataFrame(rows, columns=list(STATE_COLUMNS))
    frame["close_date"] = pd.to_datetime(frame["close_date"]).dt.date
    return frame


def pictures(con):
    """Every snapshot as {date: sorted rows} through the analysts' view."""
    rows = con.execute("select snapshot_date, opportunity_id, stage, forecast_category, "
                       "amount::double, close_date::varchar, owner from opportunity_snapshots "
                       "order by 1, 2").fetchall()
    out = {}
    for day, *row in rows:
        out.setdefault(day, []).append(tuple(row))
    return out


A1 = ("A", "1-Discovery", "Pipeline", 100.0, "2026-12-01", "Ann")
A2 = ("A", "4-Proposal", "Commit", 120.0, "2026-12-01", "Ann")
B1 = ("B", "3-Technical Evaluation", "Best Case", 50.0, "2026-11-15", "Bob")


def test_append_stores_changes_only(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    record_snapshot(con, d("2026-11-06"), picture(A1, B1))
    record_snapshot(con, d("2026-11-13"), picture(A1, B1))  # nothing changed
    record_snapshot(con, d("2026-11-20"), picture(A2))  # A moved, B deleted
    history = con.execute("select opportunity_id, valid_from, valid_to from opportunity_history "
                          "order by 1, 2").fetchall()
    assert history == [("A", d("2026-11-06"), d("2026-11-20")), ("A", d("2026-11-20"), None),
                       ("B", d("2026-11-06"), d("2026-11-20"))]
    assert pictures(con) == {d("2026-11-06"): [A1, B1], d("2026-11-13"): [A1, B1],
                             d("2026-11-20"): [A2]}


def test_replacing_and_inserting_pictures_rederives_history(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    record_snapshot(con, d("2026-11-06"), picture(A1))
    record_snapshot(con, d("2026-11-20"), picture(A2, B1))
    # Insert a picture between the two, then replace the latest one.
    record_snapshot(con, d("2026-11-13"), picture(A2))
    record_snapshot(con, d("2026-11-20"), picture(A2))
    assert pictures(con) == {d("2026-11-06"): [A1], d("2026-11-13"): [A2],
                             d("2026-11-20"): [A2]}
    # A deal gone for a week and back is two stretches, not one.
    record_snapshot(con, d("2026-11-27"), picture(A2, B1))
    record_snapshot(con, d("2026-11-13"), picture(B1))
    assert pictures(con)[d("2026-11-13")] == [B1]
    stretches = con.execute("select valid_from, valid_to from opportunity_history "
                            "where opportunity_id = 'A' order by 1").fetchall()
    assert stretches == [(d("2026-11-06"), d("2026-11-13")), (d("2026-11-20"), None)]


def test_replacing_the_latest_picture_leaves_the_rows_of_never_having_taken_it(tmp_path):
    # Recording the latest date again takes its picture back out and appends the new one: the
    # stored rows must be exactly those of a history that only ever saw the new picture.
    replaced, direct = connect(tmp_path / "r.duckdb"), connect(tmp_path / "d.duckdb")
    for con in (replaced, direct):
        record_snapshot(con, d("2026-11-06"), picture(A1, B1))
    record_snapshot(replaced, d("2026-11-13"), picture(A2))  # A moved, B gone …
    record_snapshot(replaced, d("2026-11-13"), picture(A1, B1))  # … then a corrected export
    record_snapshot(direct, d("2026-11-13"), picture(A1, B1))
    rows = ("select * exclude (amount_original, currency) from opportunity_history "
            "order by opportunity_id, valid_from")
    assert replaced.execute(rows).fetchall() == direct.execute(rows).fetchall() == [
        ("A", d("2026-11-06"), None, *A1[1:4], d("2026-12-01"), "Ann"),
        ("B", d("2026-11-06"), None, *B1[1:4], d("2026-11-15"), "Bob")]
    assert pictures(replaced) == pictures(direct)
