"""Real export shapes, end to end: a Salesforce org export (Opportunity + Account +
OpportunityHistory) and the Maven CRM data set (sales_pipeline + accounts + sales_teams with
mappings/maven.toml), imported as the README says, then `report` against numbers computed by
hand from the fixture files (tests/fixtures/sfdc, tests/fixtures/maven)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sales.cli import main
from tests.helpers import FIXTURES, ROOT

REALDATA = ROOT.parent / "shared" / "realdata"


def report(capsys, path: Path, *argv: str) -> dict:
    assert main(["report", "--db", str(path), "--format", "json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def sfdc(tmp_path, capsys) -> Path:
    path = tmp_path / "sfdc.duckdb"
    folder = FIXTURES / "sfdc"
    assert main(["import", str(folder / "Opportunity.csv"), str(folder / "Account.csv"),
                 "--db", str(path), "--as-of", "2018-10-15"]) == 0
    assert main(["import", str(folder / "OpportunityHistory.csv"), "--db", str(path)]) == 0
    capsys.readouterr()
    return path


def test_salesforce_export_report_matches_the_hand_count(sfdc, capsys):
    r = report(capsys, sfdc, "--period", "FY2018-Q3")
    # FY2018-Q3 = Jul–Sep 2018 (fiscal year from January), state as of 2018-10-15:
    # Closed = won with close in Q3: 006A01 220,000 + 006A02 85,000.
    # Omitted = 006A03 50,000 (Closed Lost, competitor Honda) + 006A04 40,000 (no competitor).
    # Commit = 006A08 30,000 (the org's ForecastCategoryName "Commit" wins over the stage map).
    # Best Case = 006A06 60,000; Pipeline = 006A05 125,000 (Negotiation/Review, but the org
    # says Pipeline); Unqualified = 006A07 100,000 (Prospecting is before qualification).
    assert r["categories"] == {
        "Closed": {"amount": 305000.0, "count": 2}, "Commit": {"amount": 30000.0, "count": 1},
        "Best Case": {"amount": 60000.0, "count": 1}, "Pipeline": {"amount": 125000.0, "count": 1},
        "Unqualified": {"amount": 100000.0, "count": 1}, "Omitted": {"amount": 90000.0, "count": 2}}
    # Rates window = four quarters before: 2017-07-01 … 2018-06-30 holds 006A09 won 90,000 and
    # 006A10 lost 70,000 to Yamaha (competition): 1 of 2 deals, 90,000 / 160,000 = 0.5625.
    assert r["rates"]["close_rate"] == {"amount": 0.5625, "count": 0.5}
    assert r["rates"]["win_rate"] == {"amount": 0.5625, "count": 0.5}
    # In-blood by default: Closed 305,000 + Commit 30,000; upside = Best Case 60,000.
    assert r["in_blood"]["number"] == 335000.0 and r["in_blood"]["upside"] == 60000.0


def test_salesforce_accounts_give_names_employees_and_segments(sfdc, capsys):
    # Enterprise = Alpha Corp (9,000 employees) and Delta plc (5,000, the boundary).
    r = report(capsys, sfdc, "--period", "FY2018-Q3", "--segment", "Enterprise")
    assert r["categories"]["Closed"] == {"amount": 220000.0, "count": 1}  # 006A01
    assert r["categories"]["Commit"] == {"amount": 30000.0, "count": 1}  # 006A08 (Delta)
    assert r["categories"]["Unqualified"] == {"amount": 100000.0, "count": 1}  # 006A07 (Delta)
    # Q3 window: won 305,000 (2 deals); lost 50,000 to Honda and 40,000 to no decision.
    r = report(capsys, sfdc, "--period", "FY2018-Q3", "--window-start", "2018-07-01",
               "--window-end", "2018-09-30")
    assert r["rates"]["close_rate"] == {"amount": 305000 / 395000, "count": 0.5}
    assert r["rates"]["win_rate"] == {"amount": 305000 / 355000, "count": 2 / 3}
    con = duckdb.connect(str(sfdc), read_only=True)
    assert con.execute("select account_name, account_employees, segment from opportunities "
                       "where opportunity_id = '006A02AAA'").fetchone() == ("Beta Inc", 1200,
                                                                           "Mid-Market")


def test_salesforce_history_becomes_snapshots(sfdc, capsys):
    con = duckdb.connect(str(sfdc), read_only=True)
    dates = [str(r[0]) for r in con.execute("select * from snapshot_dates order by 1").fetchall()]
    # One snapshot per day with changes, then the full export's own date.
    assert dates == ["2018-07-02", "2018-07-06", "2018-08-15", "2018-10-15"]
    con.close()
    # As of 2018-08-01 (snapshot 2018-07-06): 006A05 in Needs Analysis at 100,000 and 006A06 in
    # Qualification at 60,000 are Pipeline; 006A01 has closed won (220,000); the deleted history
    # row (006A05 "Closed Lost" on 2018-07-20) is left out; deals without history yet do not
    # exist on that date.
    r = report(capsys, sfdc, "--period", "FY2018-Q3", "--as-of", "2018-08-01")
    assert r["snapshot_date"] == "2018-07-06"
    assert r["categories"]["Pipeline"] == {"amount": 160000.0, "count": 2}
    assert r["categories"]["Closed"] == {"amount": 220000.0, "count": 1}
    assert r["categories"]["Commit"] == {"amount": 0.0, "count": 0}
    # On 2018-08-15 006A08 changed twice; the later change (16:00, Negotiation/Review,
    # Forecast = Commit) is the day's state even though the file lists it first.
    r = report(capsys, sfdc, "--period", "FY2018-Q3", "--as-of", "2018-08-20")
    assert r["categories"]["Commit"] == {"amount": 30000.0, "count": 1}
    assert r["categories"]["Best Case"] == {"amount": 60000.0, "count": 1}  # BestCase API value


def test_history_import_is_idempotent_and_keeps_the_current_state(sfdc):
    before = duckdb.connect(str(sfdc), read_only=True)
    rows = before.execute("select * from opportunity_history order by all").fetchall()
    current = before.execute("select * from opportunities order by all").fetchall()
    before.close()
    assert main(["import", str(FIXTURES / "sfdc" / "OpportunityHistory.csv"), "--db",
                 str(sfdc)]) == 0
    after = duckdb.connect(str(sfdc), read_only=True)
    assert after.execute("select * from opportunity_history order by all").fetchall() == rows
    assert after.execute("select * from opportunities order by all").fetchall() == current


@pytest.fixture
def maven(tmp_path, capsys) -> Path:
    path = tmp_path / "maven.duckdb"
    folder = FIXTURES / "maven"
    assert main(["import", str(folder / "sales_pipeline.csv"), str(folder / "accounts.csv"),
                 str(folder / "sales_teams.csv"), "--mapping", str(ROOT / "mappings" / "maven.toml"),
                 "--db", str(path), "--as-of", "2018-01-10"]) == 0
    out = capsys.readouterr().out
    # Engaging and Prospecting deals have no close date (and no value): kept, with warnings.
    assert "open deal without a close date: left out of every period view — 3 rows" in out
    assert "closed-lost deal with amount 0" in out
    return path


def test_maven_report_matches_the_hand_count(maven, capsys):
    r = report(capsys, maven, "--period", "FY2017-Q4")
    # FY2017-Q4 = Oct–Dec 2017. Won: M01 550 + M03 4,821 + M05 26,768 = 32,139 (3 deals).
    # Lost: M02 and M04, both close_value 0. Open deals have no close date, so no period has them.
    assert r["categories"]["Closed"] == {"amount": 32139.0, "count": 3}
    assert r["categories"]["Omitted"] == {"amount": 0.0, "count": 2}
    assert all(r["categories"][c]["count"] == 0 for c in ("Commit", "Best Case", "Pipeline",
                                                          "Unqualified"))
    # Window 2016-10-01 … 2017-09-30: M11 won 1,096, M06 won 3,393, M07 lost (0, no competitor
    # = no decision): close rate 2 of 3 by count; by amount 4,489 / 4,489 = 1 because Maven's
    # lost deals carry 0; no loss names a competitor, so the win rate is 1.
    assert r["rates"]["close_rate"] == {"amount": 1.0, "count": 2 / 3}
    assert r["rates"]["win_rate"] == {"amount": 1.0, "count": 1.0}
    assert {k: r["in_blood"][k] for k in ("number", "upside", "source")} == {
        "number": 32139.0, "upside": 0.0, "source": "default rules"}


@pytest.mark.slow
def test_maven_teams_regions_and_segments_come_from_the_enrichment_files(maven, capsys):
    # sales_teams.csv: East = Violet Mclelland and Corliss Cosme → M05 won 26,768 in Q4.
    r = report(capsys, maven, "--period", "FY2017-Q4", "--region", "East")
    assert r["categories"]["Closed"] == {"amount": 26768.0, "count": 1}
    # Team = the manager: Dustin Brinkmann has Anna and Cecily → M01 + M03 = 5,371; M02, M04 lost.
    r = report(capsys, maven, "--period", "FY2017-Q4", "--team", "Dustin Brinkmann")
    assert r["categories"]["Closed"] == {"amount": 5371.0, "count": 2}
    assert r["categories"]["Omitted"]["count"] == 2
    # accounts.csv: Cancity has 12,000 employees → Enterprise (M05); Acme 2,822 → Mid-Market.
    r = report(capsys, maven, "--period", "FY2017-Q4", "--segment", "Enterprise")
    assert r["categories"]["Closed"] == {"amount": 26768.0, "count": 1}
    con = duckdb.connect(str(maven), read_only=True)
    assert con.execute("select count(*) from opportunities where segment is null").fetchone()[0] == 2
    assert con.execute("select stage, forecast_category, qualified from stage_map "
                       "where stage = 'Engaging'").fetchone() == ("Engaging", "Pipeline", True)


def test_the_maven_mapping_finds_its_files_beside_the_export(tmp_path):
    # Only the export on the command line: accounts.csv and sales_teams.csv are found next to it.
    path = tmp_path / "maven-alone.duckdb"
    assert main(["import", str(FIXTURES / "maven" / "sales_pipeline.csv"), "--mapping",
                 str(ROOT / "mappings" / "maven.toml"), "--db", str(path)]) == 0
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select team, region from opportunities where opportunity_id = 'M05'"
                       ).fetchone() == ("Cara Losch", "East")


@pytest.mark.skipif(not REALDATA.exists(), reason="the real exports live in ../shared/realdata")
@pytest.mark.slow
def test_the_readme_commands_import_the_real_exports(tmp_path):
    sfdc, maven = REALDATA / "sfdc-dev-sample", REALDATA / "maven-crm"
    commands = [
        ["import", str(sfdc / "Opportunity.csv"), str(sfdc / "Account.csv"), "--db",
         str(tmp_path / "sfdc.duckdb")],
        ["import", str(sfdc / "OpportunityHistory.csv"), "--kind", "history", "--db",
         str(tmp_path / "sfdc.duckdb")],
        ["import", str(maven / "sales_pipeline.csv"), str(maven / "accounts.csv"),
         str(maven / "sales_teams.csv"), "--mapping", "mappings/maven.toml", "--db",
         str(tmp_path / "maven.duckdb")],
    ]
    for argv in commands:
        result = subprocess.run([sys.executable, "-m", "sales", *argv], cwd=ROOT,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    out = subprocess.run([sys.executable, "-m", "sales", "report", "--db",
                          str(tmp_path / "maven.duckdb"), "--period", "FY2017-Q4"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["categories"]["Closed"] == {"amount": 2802496.0, "count": 1196}
