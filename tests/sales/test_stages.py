"""Stage probabilities: the shipped defaults per stage list, the migration that adds them, the
editor's 0-100% check, and the rule for the CRM's own probability on import."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from sales import editors
from sales.db import connect
from sales.editors import EditError
from sales.ingest import ImportRequest, read_bytes
from sales.ingest.run import run_import
from sales.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    _stage_probabilities,
    schema_version,
    upgrade,
)
from sales.stages import (
    GENERIC_STAGES,
    HANDBOOK_STAGES,
    SALESFORCE_STAGES,
    STAGE_LISTS,
    default_stage_map,
)


def _probabilities(con) -> dict[str, tuple[float | None, str | None]]:
    return {s: (p, src) for s, p, src in con.execute(
        "select stage, probability, probability_source from stage_map").fetchall()}


def test_every_shipped_stage_list_has_a_probability_per_stage():
    for stages, probabilities in STAGE_LISTS:
        assert [s.stage for s in stages] == list(probabilities)
        assert all(0 <= p <= 100 for p in probabilities.values())
        # Won stages count in full and lost ones not at all, in every list.
        assert all(probabilities[s.stage] == (100 if s.won else 0) for s in stages if s.closed)
    assert {s.stage for s in default_stage_map()} == {
        s.stage for s in (*HANDBOOK_STAGES, *GENERIC_STAGES, *SALESFORCE_STAGES)}


def test_a_new_file_has_the_default_probabilities(tmp_path):
    con = connect(tmp_path / "new.duckdb")
    found = _probabilities(con)
    assert found["4-Proposal"] == (60.0, "default")
    assert found["Negotiation/Review"] == (90.0, "default")  # Salesforce's own
    assert found["Prospecting"] == (10.0, "default")  # generic wins over Salesforce's (both 10)
    assert found["Qualification"] == (20.0, "default")  # generic's, listed first


def test_the_migration_adds_probabilities_and_keeps_the_map(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    before = MIGRATIONS.index(_stage_probabilities)
    upgrade(con, MIGRATIONS[:before])  # a file from before the probability step
    con.execute("update stage_map set forecast_category = 'Best Case' where stage = '4-Proposal'")
    con.execute("insert into stage_map values ('Custom', 999, 'Pipeline', true, false, false, "
                "false)")
    assert upgrade(con) == SCHEMA_VERSION and schema_version(con) == SCHEMA_VERSION
    found = _probabilities(con)
    assert found["4-Proposal"] == (60.0, "default")
    assert found["Custom"] == (None, None)  # counts at its category's until someone sets one
    assert con.execute("select forecast_category from stage_map where stage = '4-Proposal'"
                       ).fetchone()[0] == "Best Case"
    con.close()


def test_the_editor_saves_a_probability_as_the_analysts(metrics_con):
    table = editors.stage_map_table(metrics_con)
    assert {"probability", "probability_source"} <= set(table.columns)
    table.loc[table.stage == "4-Proposal", "probability"] = 55
    table.loc[table.stage == "3-Technical Evaluation", "probability"] = None
    editors.save_stage_map(metrics_con, table, by="test")
    found = _probabilities(metrics_con)
    assert found["4-Proposal"] == (55.0, "analyst")
    assert found["3-Technical Evaluation"] == (None, None)
    assert found["5-Negotiating"] == (75.0, "default")  # untouched: still the default


@pytest.mark.parametrize("value", [150, -5, "lots", "101%"])
def test_the_editor_refuses_a_probability_outside_0_to_100(metrics_con, value):
    before = _probabilities(metrics_con)
    table = editors.stage_map_table(metrics_con).astype({"probability": object})
    table.loc[table.stage == "4-Proposal", "probability"] = value
    with pytest.raises(EditError, match="a percentage from 0 to 100") as caught:
        editors.save_stage_map(metrics_con, table, by="test")
    assert any("4-Proposal" in p for p in caught.value.problems)
    assert _probabilities(metrics_con) == before


def test_the_editor_reads_a_percent_sign(metrics_con):
    table = editors.stage_map_table(metrics_con).astype({"probability": object})
    table.loc[table.stage == "4-Proposal", "probability"] = "65%"
    editors.save_stage_map(metrics_con, table, by="test")
    assert _probabilities(metrics_con)["4-Proposal"] == (65.0, "analyst")


def test_an_import_sets_the_crms_probability_unless_the_analyst_has(tmp_path):
    path = tmp_path / "p.duckdb"
    con = connect(path)
    con.execute("update stage_map set probability = 33, probability_source = 'analyst' "
                "where stage = 'Negotiation/Review'")
    con.close()
    # Proposal/Price Quote: 70, 70 and one rep's override 95 → the stage's is 70 (most deals).
    # Negotiation/Review: the analyst's 33 stays. Closed Won: 100. A bad value is left out.
    data = (b"Id,StageName,Amount,CloseDate,Probability (%)\n"
            b"A,Proposal/Price Quote,10,2026-12-01,70\n"
            b"B,Proposal/Price Quote,20,2026-12-01,70%\n"
            b"C,Proposal/Price Quote,30,2026-12-01,95\n"
            b"D,Negotiation/Review,40,2026-12-01,90\n"
            b"E,Closed Won,50,2026-11-01,100\n"
            b"F,Qualification,60,2026-12-01,250\n")
    result = run_import(path, ImportRequest([read_bytes("sf.csv", data)],
                                            as_of=date(2026, 11, 20)))
    assert {f.code: [r + 2 for r in f.rows] for f in result.warnings} == {
        "probability_value": [7]}
    assert any("probability for 2 stage(s)" in line for line in result.done)
    con = duckdb.connect(str(path), read_only=True)
    found = _probabilities(con)
    assert found["Proposal/Price Quote"] == (70.0, "import")
    assert found["Negotiation/Review"] == (33.0, "analyst")
    assert found["Closed Won"] == (100.0, "import")
    assert found["Qualification"] == (20.0, "default")  # its only value was not a percentage
    con.close()
