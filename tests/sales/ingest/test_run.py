"""Importing files: headers, values, the mapping file, every error class (the database stays
unchanged), warnings, --skip-invalid, idempotence, snapshots by --as-of, and what survives."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sales.cli import main
from sales.db import connect
from sales.ingest import ImportRejected, ImportRequest, parse_mapping, read_bytes, read_path
from sales.ingest.headers import HISTORY, OPPORTUNITIES, TARGETS, detect_kind, resolve
from sales.ingest.mapping import MappingError
from sales.ingest.quality import quality_summary
from sales.ingest.run import run_import
from sales.ingest.values import (
    outside_years,
    parse_amounts,
    parse_categories,
    parse_dates,
    parse_types,
)
from sales.snapshots import STATE_COLUMNS, record_snapshot
from tests.helpers import FIXTURES, ROOT, add_submissions, content


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*argv: str) -> int:
    return main(["import", *argv])


@pytest.fixture
def loaded(tmp_path) -> Path:
    """A database with the canonical fixture imported as of 2026-11-20, plus what users save:
    a target, a setting, a submission and a saved call with a decision."""
    path = tmp_path / "loaded.duckdb"
    assert cli(str(FIXTURES / "opportunities.csv"), "--db", str(path), "--as-of", "2026-11-20") == 0
    con = connect(path)
    con.execute("insert into targets values ('FY2026-Q4', 'company', '', 1000)")
    con.execute("insert into settings values ('coverage_multiple', '2.5')")
    add_submissions(con, "('FY2026-Q4', 'Ann', '2026-11-16', 650, 100)")
    con.execute("insert into forecast_calls (period, call_date, saved_at, saved_by) values "
                "('FY2026-Q4', '2026-11-20', '2026-11-20 10:00', 'Lee')")
    con.execute("insert into forecast_call_decisions values (1, 'O2', false, 'timing', 100, 'Commit')")
    con.execute("checkpoint")
    con.close()
    return path


# --- headers, values and the mapping file ------------------------------------------------------


def test_salesforce_api_names_report_labels_and_canonical_names_are_recognised():
    api = resolve(["Id", "Name", "StageName", "Amount", "CloseDate", "OwnerId", "AccountId",
                   "ForecastCategoryName", "ForecastCategory", "IsWon"], OPPORTUNITIES)[0]
    assert api["opportunity_id"] == "Id" and api["stage"] == "StageName"
    assert api["forecast_category"] == "ForecastCategoryName"  # the label beats the API value
    labels = resolve(["Opportunity Name", "Stage", "Close Date", "Forecast Category",
                      "Opportunity Owner", "Account Name", "Opportunity ID"], OPPORTUNITIES)[0]
    assert labels == {"name": "Opportunity Name", "stage": "Stage", "close_date": "Close Date",
                      "forecast_category": "Forecast Category", "owner": "Opportunity Owner",
                      "account_name": "Account Name", "opportunity_id": "Opportunity ID"}
    assert resolve(["close_date", "CLOSE-DATE"], OPPORTUNITIES)[0]["close_date"] == "close_date"


def test_kinds_are_recognised_from_headers():
    sfdc = FIXTURES / "sfdc"
    assert detect_kind(read_path(sfdc / "Opportunity.csv").headers) == OPPORTUNITIES
    assert detect_kind(read_path(sfdc / "OpportunityHistory.csv").headers) == HISTORY
    assert detect_kind(read_path(sfdc / "Account.csv").headers) == "accounts"
    assert detect_kind(read_path(FIXTURES / "targets.csv").headers) == TARGETS
    assert detect_kind(read_path(FIXTURES / "submissions.csv").headers) == "submissions"
    assert detect_kind(["sales_agent", "manager", "regional_office"]) == "owners"
    assert detect_kind(["product", "series", "sales_price"]) is None


def test_dates_amounts_and_categories_parse_in_bulk():
    dates, bad = parse_dates(pd.Series(["2018-08-22 00:00:00", "2018-08-22T10:00:00.000+0000",
                                        "", None, "next Friday", "1800-01-01"]))
    assert [str(d.date()) if not pd.isna(d) else None for d in dates] == [
        "2018-08-22", "2018-08-22", None, None, None, "1800-01-01"]
    # 1800 is a date, read as one; the import refuses it saying the years it accepts.
    assert bad.tolist() == [False, False, False, False, True, False]
    assert outside_years(dates).tolist() == [False] * 5 + [True]
    us, _ = parse_dates(pd.Series(["8/22/2018", "12/1/2018"]))
    eu, _ = parse_dates(pd.Series(["22/08/2018", "01/12/2018"]))  # 22 can only be a day
    assert list(us.dt.month) == [8, 12] and list(eu.dt.month) == [8, 12]
    amounts, bad = parse_amounts(pd.Series(["$12,500.00", "(300)", "USD 1,000", "12k", "", "1e3"]))
    assert amounts.tolist()[:3] == [12500.0, -300.0, 1000.0] and bad.tolist()[3] and not bad[4]
    assert parse_amounts(pd.Series(["1.234,56"]), decimal=",")[0].iloc[0] == 1234.56
    categories, bad = parse_categories(pd.Series(["BestCase", "Forecast", "Most Likely", "Maybe"]))
    assert list(categories[:3]) == ["Best Case", "Commit", "Best Case"] and bad.tolist()[3]


def test_deal_types_read_common_and_salesforce_spellings():
    types, unknown = parse_types(pd.Series(["New Customer", "Existing Customer - Upgrade",
                                            "existing customer - replacement", "renewal",
                                            "Upsell", "Existing Business", "", None]))
    assert types.tolist()[:6] == ["New Business", "Expansion", "Renewal", "Renewal",
                                  "Expansion", "Existing Business"]  # the last kept as written
    assert pd.isna(types.iloc[6]) and pd.isna(types.iloc[7])
    assert unknown.tolist() == [False] * 5 + [True, False, False]
    mapped, unknown = parse_types(pd.Series(["Existing Business"]), {"Existing Business": "Renewal"})
    assert mapped.tolist() == ["Renewal"] and not unknown.any()


def test_an_unknown_deal_type_is_imported_as_written_with_a_warning(tmp_path):
    data = (b"opportunity_id,stage,amount,close_date,type\nA,1-Discovery,10,2026-12-01,New Customer\n"
            b"B,1-Discovery,20,2026-12-01,Existing Business\n")
    request = ImportRequest([read_bytes("t.csv", data)], as_of=date(2026, 11, 20))
    result = run_import(tmp_path / "t.duckdb", request)
    assert {f.code: [r + 2 for r in f.rows] for f in result.warnings} == {"unknown_type": [3]}
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    assert con.execute("select opportunity_id, type from opportunities order by 1").fetchall() == [
        ("A", "New Business"), ("B", "Existing Business")]
    panel = quality_summary(con, date(2026, 11, 20)).set_index("check")
    assert panel.loc["unknown_type", "deals"] == 1  # B, until a mapping says what it is
    con.close()
    mapping = parse_mapping('[types]\n"Existing Business" = "Expansion"')
    request = ImportRequest([read_bytes("t.csv", data)], as_of=date(2026, 11, 20), mapping=mapping)
    assert not run_import(tmp_path / "t.duckdb", request).warnings


def test_the_issue_mapping_shape_parses_exactly_as_written():
    text = (ROOT / "mappings" / "maven.toml").read_text()
    mapping = parse_mapping(text)
    assert mapping.column_map["amount"] == "close_value"
    assert mapping.stage_map["Lost"].category == "Omitted" and mapping.stage_map["Won"].won
    assert mapping.accounts.file == "accounts.csv" and mapping.accounts.export_key == "account"
    assert dict(mapping.accounts.columns) == {"account_employees": "employees"}
    assert dict(mapping.owners.columns) == {"team": "manager", "region": "regional_office"}


@pytest.mark.parametrize("text, message", [
    ("[columns]\nrevenue = 'x'", "not a column we know"),
    ("[stages]\n'Won' = { category = 'Won', qualified = true, closed = true, won = true }",
     "category must be one of"),
    ("[stages]\n'Won' = { category = 'Closed', qualified = true, closed = false, won = true }",
     "a won stage is closed"),
    ("[accounts]\nkey = 'account'", "needs file"),
    ("[colums]\n", "unknown section"),
    ("[types]\n'Existing Business' = 'Upsell'", "must map to one of New Business, Expansion"),
    ("[columns\n", "not valid TOML"),
])
def test_a_wrong_mapping_file_says_which_line(text, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(text)


# --- every error class: rejected with row, column, value, reason, fix; database unchanged -------


@pytest.mark.parametrize("fixture, row, column, value, reason, fix", [
    ("missing_id.csv", 3, "opportunity_id", "''", "opportunity id is empty", "fill it in"),
    ("missing_stage.csv", 3, "stage", "''", "the stage is empty", "needs its CRM stage"),
    ("duplicate_id.csv", 4, "opportunity_id", "'B1'", "on more than one row", "remove the repeated"),
    ("bad_date.csv", 3, "close_date", "'next Friday'", "not a date", "YYYY-MM-DD"),
    ("bad_amount.csv", 3, "amount", "'12k'", "not an amount", "12,500.00"),
    ("negative_amount.csv", 3, "amount", "'-250'", "amount is negative", "0 or more"),
    ("unknown_stage.csv", 3, "stage", "'Verbal Commit'", 'stage "Verbal Commit" is not in the '
     "stage map", '"Verbal Commit" = { category = "Pipeline"'),
    ("won_without_close_date.csv", 3, "opportunity_id", "'B2'",
     "closed-won deal has no close date", "export it with its close date"),
])
def test_each_error_rejects_the_file_and_changes_nothing(loaded, capsys, fixture, row, column,
                                                         value, reason, fix):
    before, raw = content(loaded), digest(loaded)
    assert cli(str(FIXTURES / "bad" / fixture), "--db", str(loaded)) == 1
    err = capsys.readouterr().err
    assert f"error: {fixture}, column {column}: " in err and reason in err
    assert f"row {row}: {value}" in err and fix in err
    assert f"Nothing was imported: {loaded} is unchanged" in err
    assert content(loaded) == before and digest(loaded) == raw


def test_unknown_stages_are_named_with_the_lines_to_add(loaded, capsys):
    assert cli(str(FIXTURES / "bad" / "unknown_stage.csv"), "--db", str(loaded)) == 1
    err = capsys.readouterr().err
    assert '"Verbal Commit" is not in the stage map — 2 rows' in err
    # A near miss is pointed at the stage the map has.
    assert 'the stage map has "Closed Won": fix the spelling' in err
    assert "add these lines to the mapping file" in err
    assert '"closed won" = { category = "Closed", qualified = true, closed = true, won = true }' in err


def test_a_file_without_a_required_column_says_what_it_looked_for(loaded, capsys):
    before = content(loaded)
    assert cli(str(FIXTURES / "bad" / "missing_column.csv"), "--db", str(loaded)) == 1
    err = capsys.readouterr().err
    assert "no column for stage (looked for stage, StageName" in err
    assert '[columns] stage = "Your header"' in err
    assert content(loaded) == before


def test_bad_targets_are_each_reported(loaded, capsys):
    before = content(loaded)
    assert cli(str(FIXTURES / "bad" / "targets.csv"), "--db", str(loaded)) == 1
    err = capsys.readouterr().err
    assert "not a fiscal period label" in err and "row 3: 'Q4 2026'" in err
    assert "not a target scope" in err and "row 4: 'division'" in err
    assert "the scope value is empty" in err and "the target is negative" in err
    assert content(loaded) == before


def test_a_rejected_import_from_a_real_process_exits_non_zero(loaded):
    before = content(loaded)
    result = subprocess.run([sys.executable, "-m", "sales", "import",
                             str(FIXTURES / "bad" / "duplicate_id.csv"), "--db", str(loaded)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "duplicate" not in result.stdout
    assert "same opportunity id is on more than one row" in result.stderr
    assert content(loaded) == before


def test_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert cli(str(tmp_path / "nope.csv"), "--db", str(tmp_path / "x.duckdb")) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "x.duckdb").exists()


# --- skip-invalid, warnings ---------------------------------------------------------------------


def test_skip_invalid_imports_the_rest_and_writes_the_rejected_rows(tmp_path, capsys):
    path = tmp_path / "skip.duckdb"
    bad = FIXTURES / "bad" / "unknown_stage.csv"
    assert cli(str(bad), "--db", str(path), "--skip-invalid", "--rejects", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "Rejected rows (left out with --skip-invalid)" in out
    con = duckdb.connect(str(path), read_only=True)
    assert [r[0] for r in con.execute("select opportunity_id from opportunities").fetchall()] == ["B1"]
    rejected = pd.read_csv(tmp_path / "unknown_stage.rejected.csv")
    assert list(rejected["row"]) == [3, 4, 5]
    assert list(rejected["opportunity_id"]) == ["B2", "B3", "B4"]
    assert "is not in the stage map" in rejected["problems"][0]


def test_warnings_are_imported_and_listed(tmp_path, capsys):
    path = tmp_path / "warn.duckdb"
    assert cli(str(FIXTURES / "opportunities.csv"), "--db", str(path), "--as-of", "2026-11-20") == 0
    out = capsys.readouterr().out
    # O8's reason is not in the loss-reason map and names no competitor.
    assert "lost reason not in the loss-reason map" in out and "'Went with spreadsheets'" in out
    con = duckdb.connect(str(path), read_only=True)
    classes = dict(con.execute("select opportunity_id, loss_class from opportunities "
                               "where loss_class is not null").fetchall())
    assert classes == {"O7": "competition", "O8": "no_decision"}


def test_open_deals_without_or_past_their_close_date_are_warnings(tmp_path):
    data = (b"opportunity_id,stage,amount,close_date\nA,1-Discovery,10,\nB,1-Discovery,,2026-01-01\n"
            b"C,8-Closed Lost,0,2026-01-02\n")
    request = ImportRequest([read_bytes("w.csv", data)], as_of=date(2026, 11, 20))
    result = run_import(tmp_path / "w.duckdb", request)
    codes = {f.code: [r + 2 for r in f.rows] for f in result.warnings}
    assert codes == {"open_without_close_date": [2], "close_date_passed": [3],
                     "missing_amount": [3], "lost_zero_amount": [4]}


# --- idempotence, snapshots, what survives ------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(loaded):
    before = content(loaded)
    assert cli(str(FIXTURES / "opportunities.csv"), "--db", str(loaded), "--as-of", "2026-11-20") == 0
    after = content(loaded)
    version = dict(after.pop("meta"))["data_version"]
    before.pop("meta")
    assert after == before and int(version) > 1  # same content; the data version moved on


def test_a_later_export_appends_a_snapshot_and_becomes_the_current_state(loaded):
    assert cli(str(FIXTURES / "opportunities_next.csv"), "--db", str(loaded),
               "--as-of", "2026-11-27") == 0
    con = duckdb.connect(str(loaded), read_only=True)
    dates = [str(r[0]) for r in con.execute("select snapshot_date from snapshot_dates order by 1").fetchall()]
    assert dates == ["2026-11-20", "2026-11-27"]
    # The latest snapshot equals the opportunities table.
    latest = con.execute(f"select {', '.join(STATE_COLUMNS)} from opportunity_snapshots "
                         "where snapshot_date = '2026-11-27' order by 1").fetchall()
    table = con.execute(f"select {', '.join(STATE_COLUMNS)} from opportunities order by 1").fetchall()
    assert latest == table and len(table) == 8
    # O5 was deleted in the CRM: it existed on 2026-11-20 and not after; O2 changed.
    o5 = con.execute("select valid_from, valid_to from opportunity_history "
                     "where opportunity_id = 'O5'").fetchall()
    assert [(str(a), str(b)) for a, b in o5] == [("2026-11-20", "2026-11-27")]
    o2 = con.execute("select stage, amount from opportunity_history where opportunity_id = 'O2' "
                     "order by valid_from").fetchall()
    assert [(s, float(a)) for s, a in o2] == [("4-Proposal", 100.0), ("6-Awaiting Signature", 120.0)]


def test_user_saved_data_survives_every_import(loaded):
    saved = {t: content(loaded)[t] for t in ("targets", "people_calls", "forecast_calls",
                                              "forecast_call_decisions")}
    setting = [r for r in content(loaded)["settings"] if r[0] == "coverage_multiple"]
    for fixture, as_of in (("opportunities_next.csv", "2026-11-27"), ("opportunities.csv", "2026-11-28")):
        assert cli(str(FIXTURES / fixture), "--db", str(loaded), "--as-of", as_of) == 0
    after = content(loaded)
    assert all(after[t] == rows for t, rows in saved.items())
    assert [r for r in after["settings"] if r[0] == "coverage_multiple"] == setting


def test_replacing_the_latest_snapshot_equals_recording_it_the_slow_way(loaded, tmp_path):
    # Import A then B on the same day: B replaces A's picture (the latest is taken back out and
    # appended again). The reference database records the final pictures latest first, so the
    # earlier one goes through the full re-derivation from every picture.
    assert cli(str(FIXTURES / "opportunities_next.csv"), "--db", str(loaded),
               "--as-of", "2026-11-27") == 0
    assert cli(str(FIXTURES / "opportunities.csv"), "--db", str(loaded), "--as-of", "2026-11-27") == 0
    reference = connect(tmp_path / "reference.duckdb")
    for day, fixture in ((date(2026, 11, 27), "opportunities.csv"),
                         (date(2026, 11, 20), "opportunities.csv")):
        state = pd.read_csv(FIXTURES / fixture)
        state["forecast_category"] = state["forecast_category"].fillna(
            state["stage"].map(dict(reference.execute(
                "select stage, forecast_category from stage_map").fetchall())))
        state["close_date"] = pd.to_datetime(state["close_date"]).dt.date
        record_snapshot(reference, day, state)
    reference.close()
    assert content(loaded)["opportunity_history"] == content(
        tmp_path / "reference.duckdb")["opportunity_history"]


def test_an_earlier_export_only_fills_in_history(loaded, capsys):
    current = content(loaded)["opportunities"]
    assert cli(str(FIXTURES / "opportunities_next.csv"), "--db", str(loaded),
               "--as-of", "2026-11-13") == 0
    assert "history only" in capsys.readouterr().out
    after = content(loaded)
    assert after["opportunities"] == current
    assert [str(r[0]) for r in after["snapshot_dates"]] == ["2026-11-13", "2026-11-20"]


def test_report_labels_us_dates_and_money_text(tmp_path):
    path = tmp_path / "labels.duckdb"
    assert cli(str(FIXTURES / "report_labels.csv"), "--db", str(path), "--as-of", "2026-11-20") == 0
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("select opportunity_id, owner, stage, forecast_category, amount, close_date, "
                       "next_step from opportunities order by 1").fetchall()
    assert [(r[0], r[1], r[2], r[3], float(r[4]), str(r[5]), r[6]) for r in rows] == [
        ("R1", "Dana Lee", "Negotiation", "Commit", 12500.0, "2026-12-15", "Send order form"),
        ("R2", "Dana Lee", "Closed Won", "Closed", 7000.0, "2026-10-30", None),
        ("R3", "Sam Roe", "Qualification", "Pipeline", 3250.5, "2026-11-30", "Book demo")]


def test_xlsx_files_import_like_csv(tmp_path):
    book = tmp_path / "export.xlsx"
    frame = pd.read_csv(FIXTURES / "opportunities.csv", dtype=str)
    frame["close_date"] = pd.to_datetime(frame["close_date"])  # real dates in the cells
    frame["amount"] = frame["amount"].astype(int)
    frame.to_excel(book, index=False)
    from_csv, from_xlsx = tmp_path / "csv.duckdb", tmp_path / "xlsx.duckdb"
    for source, target in ((FIXTURES / "opportunities.csv", from_csv), (book, from_xlsx)):
        assert cli(str(source), "--db", str(target), "--as-of", "2026-11-20") == 0
    assert content(from_xlsx)["opportunities"] == content(from_csv)["opportunities"]


def test_targets_replace_their_periods_and_submissions_upsert(loaded):
    assert cli(str(FIXTURES / "targets.csv"), str(FIXTURES / "submissions.csv"),
               "--db", str(loaded)) == 0
    after = content(loaded)
    assert [(p, s, v, float(a)) for p, s, v, a in after["targets"]] == [
        ("FY2026-Q4", "company", "", 1000.0), ("FY2026-Q4", "segment", "Enterprise", 600.0),
        ("FY2026-Q4", "team", "T1", 300.0), ("FY2027-Q1", "company", "", 1200.0)]
    # Each row is a call by the owner it names at the file's date, 00:00; Ann's, made before
    # at the same moment, is replaced, not doubled.
    calls = sorted((c[2], c[1], str(c[6]), float(c[3]), float(c[4]), c[7])
                   for c in after["people_calls"])
    assert calls == [
        ("FY2026-Q4", "Ann", "2026-11-16 00:00:00", 650.0, 100.0, "Ann"),
        ("FY2026-Q4", "Bob", "2026-11-16 00:00:00", 200.0, 50.0, "Bob"),
        ("FY2026-Q4", "Cat", "2026-11-16 00:00:00", 0.0, 0.0, "Cat")]
    assert cli(str(FIXTURES / "submissions.csv"), "--db", str(loaded)) == 0
    assert len(content(loaded)["people_calls"]) == 3  # importing it again changes nothing
    before = content(loaded)
    assert cli(str(FIXTURES / "targets.csv"), "--db", str(loaded)) == 0  # idempotent
    assert content(loaded)["targets"] == before["targets"]


def test_several_exports_of_one_kind_in_one_call_are_refused(loaded, capsys):
    before = content(loaded)
    assert cli(str(FIXTURES / "opportunities.csv"), str(FIXTURES / "opportunities_next.csv"),
               "--db", str(loaded)) == 1
    assert "more than one opportunities file" in capsys.readouterr().err
    assert content(loaded) == before


def test_a_rejected_import_raises_with_every_finding(loaded):
    request = ImportRequest([read_path(FIXTURES / "bad" / "negative_amount.csv")])
    with pytest.raises(ImportRejected) as caught:
        run_import(loaded, request)
    assert [f.code for f in caught.value.plan.findings.errors] == ["negative_amount"]


def test_an_empty_export_is_refused_rather_than_wiping_the_deals(loaded, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("opportunity_id,stage,amount,close_date\n")
    before = content(loaded)
    assert cli(str(empty), "--db", str(loaded)) == 1
    assert "the file has no rows to import" in capsys.readouterr().err
    assert content(loaded) == before


def test_deals_missing_from_a_full_export_are_counted(loaded, capsys):
    assert cli(str(FIXTURES / "opportunities_next.csv"), "--db", str(loaded),
               "--as-of", "2026-11-27") == 0
    assert "1 deal(s) not in the export left the current state" in capsys.readouterr().out  # O5
