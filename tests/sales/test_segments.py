import duckdb
import pytest

from sales.db import connect
from sales.query import deals_sql
from sales.segments import segment_for
from sales.stages import (
    CLOSED,
    OMITTED,
    UNQUALIFIED,
    closed_lost_sql,
    default_stage_map,
    stage_flag_sql,
)
from tests.helpers import seed


@pytest.mark.parametrize("employees, segment", [
    (0, "SMB"), (499, "SMB"), (500, "Mid-Market"), (4_999, "Mid-Market"),
    (5_000, "Enterprise"), (250_000, "Enterprise"), (None, None),
])
def test_segment_boundaries(employees, segment):
    assert segment_for(employees) == segment


def test_explicit_segment_wins():
    assert segment_for(10, "Enterprise") == "Enterprise"
    assert segment_for(10, "  ") == "SMB"


def test_shipped_stage_map_covers_the_spec_lists():
    stages = {s.stage: s for s in default_stage_map()}
    # Handbook: 0-Pending Acceptance not qualified; 5 and 6 redlining; 9 and 10 closed, not
    # qualified; 00-Pre Opportunity open and not qualified.
    assert not stages["0-Pending Acceptance"].qualified
    assert stages["1-Discovery"].forecast_category == "Pipeline"
    assert stages["3-Technical Evaluation"].forecast_category == "Best Case"
    assert [stages[s].redlining for s in ("4-Proposal", "5-Negotiating", "6-Awaiting Signature")] \
        == [False, True, True]
    assert stages["7-Closed Won"].won and stages["7-Closed Won"].closed
    for s in ("9-Unqualified", "10-Duplicate"):
        assert stages[s].closed and not stages[s].qualified and not stages[s].won
    assert not stages["00-Pre Opportunity"].closed and not stages["00-Pre Opportunity"].qualified
    # Generic list.
    assert not stages["Prospecting"].qualified
    assert stages["Solution Design"].forecast_category == "Best Case"
    assert stages["Negotiation"].redlining and stages["Negotiation"].forecast_category == "Commit"
    # Salesforce default list.
    assert stages["Negotiation/Review"].forecast_category == "Commit"
    assert stages["Closed Lost"].closed and not stages["Closed Lost"].won
    # Every closed stage carries Closed or Omitted.
    for s in stages.values():
        if s.closed:
            assert s.forecast_category == (CLOSED if s.won else OMITTED)


def test_schema_ships_the_default_map():
    con = connect(":memory:")
    assert con.execute("select count(*) from stage_map").fetchone()[0] == len(default_stage_map())


def test_report_category_rules(tmp_path):
    # The shipped rule (sales.query.report_category_sql) on real rows: an open deal in a stage
    # before SAL/SAO is Unqualified whatever its category; closed and won is Closed; closed
    # without a win (9-Unqualified included) is Omitted; otherwise the deal's own category
    # wins over the stage's, which fills in when the deal has none.
    con = connect(tmp_path / "rules.duckdb")
    seed(con, [dict(id="U", stage="0-Pending Acceptance", category="Commit"),
               dict(id="W", stage="7-Closed Won", category="Commit"),
               dict(id="X", stage="9-Unqualified", category=None),
               dict(id="P", stage="4-Proposal", category="Best Case"),
               dict(id="Q", stage="4-Proposal", category=None)])
    deals = deals_sql(None)
    found = dict(con.execute(f"select opportunity_id, category from ({deals})",
                             dict(deals.params)).fetchall())
    assert found == {"U": UNQUALIFIED, "W": CLOSED, "X": OMITTED, "P": "Best Case",
                     "Q": "Commit"}


def test_loss_classes(tmp_path):
    # The shipped rule (sales.losses.reclassify_losses): a lost deal naming a competitor is
    # competition whatever its reason; a mapped reason (any case and spacing) takes its class;
    # an unmapped one counts as no decision; a won or open deal has none.
    con = connect(tmp_path / "losses.duckdb")
    lost = dict(stage="8-Closed Lost", category="Omitted")
    seed(con, [dict(id="C", lost_reason="No budget", competitor="Rival", **lost),
               dict(id="D", lost_reason=" duplicate ", **lost),
               dict(id="N", lost_reason="No budget", competitor="", **lost),
               dict(id="U", lost_reason="Champion left", **lost),
               dict(id="W", stage="7-Closed Won", category="Closed", lost_reason="No budget")])
    found = dict(con.execute("select opportunity_id, loss_class from opportunities").fetchall())
    assert found == {"C": "competition", "D": "excluded", "N": "no_decision",
                     "U": "no_decision", "W": None}


def test_a_missing_stage_flag_reads_as_its_default():
    # A stage the map does not list reaches SQL as nulls through a left join: it is open,
    # qualified, not won, not redlining. A closed stage whose won flag is null is lost (not
    # won), like report_category_sql reads it; a null closed flag is open, so not lost.
    con = duckdb.connect()
    rows = con.execute(f"""
        select closed, won, {closed_lost_sql("m")} as lost, {stage_flag_sql("qualified")} as q,
               {stage_flag_sql("redlining")} as r
        from (values (true, null, null, null), (true, true, true, false),
                     (true, false, true, false), (null, null, null, null),
                     (false, null, null, null))
             m(closed, won, qualified, redlining)""").fetchall()
    assert [(lost, q, r) for *_, lost, q, r in rows] == [
        (True, True, False), (False, True, False), (True, True, False),
        (False, True, False), (False, True, False)]
