"""The roll-ups page (Pipeline by category) beyond its first tests: amount and count together,
and drilling from the total row and column (conftest.py's hand-computed fixture)."""

from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT, TIMEOUT

PAGE = str(ROOT / "pages/pipeline.py")


def test_amount_and_count_side_by_side(fixture_db):  # noqa: F811
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.radio(key="pivot_measure").set_value("both").run()
    pivot = at.dataframe[0].value.set_index("segment")
    # Enterprise Commit: D2 100 + D3 200 in 2 deals; the total row 2,600 in 7 (D1–D7).
    assert (pivot.loc["Enterprise", "Commit"], pivot.loc["Enterprise", "Commit deals"]) == (300, 2)
    assert (pivot.loc["Total", "Total"], pivot.loc["Total", "Total deals"]) == (2600, 7)
    assert list(pivot.columns[-4:]) == ["Unqualified", "Unqualified deals", "Omitted",
                                        "Omitted deals"]  # apart, after the total


def test_drill_from_the_total_row_and_column(fixture_db):  # noqa: F811
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="drill_category").select("Total").run()
    deals = at.dataframe[1].value
    # Every segment's Closed + Commit + Best Case + Pipeline: D1–D7, 2,600 = the Total cell.
    assert sorted(deals.opportunity_id) == ["D1", "D2", "D3", "D4", "D5", "D6", "D7"]
    assert deals.amount.sum() == at.dataframe[0].value.set_index("segment").loc["Total", "Total"]
    at.selectbox(key="drill_value").select("Mid-Market").run()
    assert sorted(at.dataframe[1].value.opportunity_id) == ["D4", "D5"]  # 300 + 400
    assert any("the cell's $700" in c.value for c in at.caption)
