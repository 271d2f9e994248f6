"""A deal deleted in the CRM keeps the descriptive fields it last had (docs/data-model.md#deleted-deals): past
views, filters and movement's "removed" still see it."""

import pytest

from sales.callprep import prepare_call
from sales.db import connect
from sales.departed import replace_current
from sales.periods import parse_period
from sales.query import distinct_values
from sales.rates import outcomes
from sales.rollup import category_rollup
from sales.view import Filters, Measure, View
from tests.helpers import d, seed

Q4 = parse_period("FY2026-Q4")  # 2026-10-01 … 2026-12-31
S0, S1 = d("2026-11-13"), d("2026-11-20")
PROP, LOST = "4-Proposal", "8-Closed Lost"
DEALS = [
    dict(id="A", stage=PROP, category="Commit", amount=100, close="2026-12-01", owner="Ann",
         region="EMEA", team="T1", type="New Business", channel="Direct"),
    dict(id="B", stage=PROP, category="Commit", amount=200, close="2026-12-01", owner="Bob",
         region="AMER", team="T2", type="New Business", channel="Direct"),
    # G: EMEA Commit 300 at S0, deleted in the CRM before S1 (the S1 export lacks it).
    dict(id="G", stage=PROP, category="Commit", amount=300, close="2026-12-10", owner="Ann",
         region="EMEA", team="T1", type="Expansion", channel="Partner"),
    # L: lost to a competitor in September (the rates window), also deleted before S1.
    dict(id="L", stage=LOST, category="Omitted", amount=50, close="2026-09-01", owner="Ann",
         region="EMEA", team="T1", competitor="Rival"),
]


def _picture(ids):
    return [(x["id"], x["stage"], x["category"], x["amount"], x["close"], x["owner"])
            for x in DEALS if x["id"] in ids]


@pytest.fixture
def con(tmp_path):
    con = connect(tmp_path / "departed.duckdb")
    seed(con, DEALS, {S0: _picture("ABGL"), S1: _picture("AB")})
    yield con
    con.close()


def emea(as_of=S1) -> View:
    return View(Q4, as_of, Filters.of(region="EMEA"))


def test_a_deleted_deal_is_removed_under_a_filter_on_its_region(con):
    commit = prepare_call(con, emea(), S0).movement["Commit"]
    # At the last call EMEA's Commit was A 100 + G 300 = 400 in 2 deals; G was deleted since:
    # removed −300; now A 100.
    assert (commit.start, commit.start_count) == (400, 2)
    assert (commit.parts["removed"], commit.counts["removed"]) == (-300, 1)
    assert (commit.end, commit.end_count) == (100, 1)
    assert commit.start + sum(commit.parts.values()) == commit.end


def test_last_weeks_view_is_what_it_showed_last_week(con):
    # EMEA as of S0, read after G and L left the current state: Commit A 100 + G 300.
    assert category_rollup(con, emea(S0))["Commit"] == Measure(400.0, 2)
    # Its type and channel still filter it.
    partner = View(Q4, S0, Filters.of(channel="Partner"))
    assert category_rollup(con, partner)["Commit"] == Measure(300.0, 1)
    # Today it no longer exists.
    assert category_rollup(con, emea())["Commit"] == Measure(100.0, 1)


def test_rates_as_of_then_keep_a_deleted_loss(con):
    window = (d("2025-10-01"), d("2026-09-30"))
    assert outcomes(con, *window, S0, Filters.of(region="EMEA")).lost_competition == Measure(50.0, 1)
    assert outcomes(con, *window, S1, Filters.of(region="EMEA")).lost_competition == Measure(0.0, 0)


def test_the_departed_keep_their_fields_once(con):
    rows = con.execute("select opportunity_id, region, departed_on from departed_opportunities "
                       "order by 1").fetchall()
    assert rows == [("G", "EMEA", S1), ("L", "EMEA", S1)]
    known = con.execute("select opportunity_id, count(*) from known_opportunities group by 1 "
                        "order by 1").fetchall()
    assert known == [("A", 1), ("B", 1), ("G", 1), ("L", 1)]
    assert "Partner" in distinct_values(con, "channel")  # only G had it


def test_a_deal_that_comes_back_is_current_again(con):
    con.register("back", con.execute("select 'G' as opportunity_id union all select 'A' "
                                      "union all select 'B'").df())
    con.execute("insert into opportunities (opportunity_id, stage, region) "
                "values ('G', '4-Proposal', 'APAC')")
    gone = replace_current(con, "back", d("2026-11-27"))
    assert gone == 0
    assert con.execute("select opportunity_id from departed_opportunities").fetchall() == [("L",)]
    assert con.execute("select region from known_opportunities where opportunity_id = 'G'"
                       ).fetchall() == [("APAC",)]


# --- Through the import: a full export without a deal, and an older export with one.

HEADER = "Id,Name,Account Name,StageName,ForecastCategoryName,Amount,CloseDate,Opportunity Owner,Region\n"
ROWS = {"A": "A,Deal A,Acme,4-Proposal,Commit,100,2026-12-01,Ann,EMEA\n",
        "B": "B,Deal B,Bolt,4-Proposal,Commit,200,2026-12-01,Bob,AMER\n",
        "G": "G,Deal G,Gone,4-Proposal,Commit,300,2026-12-10,Ann,EMEA\n"}


def _import(path, folder, ids: str, as_of):
    from sales.ingest import ImportRequest, read_path, run_import

    csv = folder / f"export-{as_of}.csv"
    csv.write_text(HEADER + "".join(ROWS[i] for i in ids))
    run_import(path, ImportRequest(sources=[read_path(csv)], kind="opportunities", as_of=as_of))


def test_an_export_without_a_deal_keeps_its_fields(tmp_path):
    path = tmp_path / "imported.duckdb"
    _import(path, tmp_path, "ABG", S0)
    _import(path, tmp_path, "AB", S1)
    con = connect(path, read_only=True)
    assert con.execute("select opportunity_id, region, departed_on from departed_opportunities"
                       ).fetchall() == [("G", "EMEA", S1)]
    commit = prepare_call(con, emea(), S0).movement["Commit"]
    assert (commit.start, commit.parts["removed"], commit.end) == (400, -300, 100)
    # Each import is on the audit trail, newest first, as the operating-system user's.
    from sales.audit import trail

    lines = trail(con)
    assert lines["summary"].tolist() == [
        f"import of export-{S1}.csv: 3 → 2 deals, as of {S1}",
        f"import of export-{S0}.csv: 0 → 3 deals, as of {S0}"]
    assert set(lines["action"]) == {"import"} and lines["who"].str.endswith("(command line)").all()
    con.close()


def test_an_older_export_tells_the_fields_of_a_deal_deleted_since(tmp_path):
    path = tmp_path / "history.duckdb"
    _import(path, tmp_path, "AB", S1)
    _import(path, tmp_path, "ABG", S0)  # dated before the latest snapshot: history only
    con = connect(path, read_only=True)
    assert con.execute("select opportunity_id, region, departed_on from departed_opportunities"
                       ).fetchall() == [("G", "EMEA", S1)]
    assert category_rollup(con, emea(S0))["Commit"] == Measure(400.0, 2)
    assert con.execute("select count(*) from opportunities").fetchall() == [(2,)]
    con.close()
