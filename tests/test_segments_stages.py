import pytest

from sales.db import connect
from sales.losses import classify_loss
from sales.segments import segment_for
from sales.stages import (
    CLOSED,
    OMITTED,
    UNQUALIFIED,
    Stage,
    default_stage_map,
    report_category,
)


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


def test_report_category_rules():
    open_unqualified = Stage("0-Pending Acceptance", 0, "Pipeline", False, False, False)
    assert report_category(open_unqualified, "Commit") == UNQUALIFIED
    won = Stage("7-Closed Won", 1, "Closed", True, True, True)
    assert report_category(won, "Commit") == CLOSED
    lost = Stage("9-Unqualified", 2, "Omitted", False, True, False)
    assert report_category(lost, None) == OMITTED
    proposal = Stage("4-Proposal", 3, "Commit", True, False, False)
    assert report_category(proposal, "Best Case") == "Best Case"  # the data's category wins
    assert report_category(proposal, None) == "Commit"


def test_loss_classes():
    reasons = {"Duplicate": "excluded", "No budget": "no_decision"}
    assert classify_loss("No budget", "Rival", reasons) == "competition"  # naming a competitor
    assert classify_loss(" duplicate ", None, reasons) == "excluded"
    assert classify_loss("No budget", "", reasons) == "no_decision"
    assert classify_loss("Champion left", None, reasons) == "no_decision"  # unmapped
