"""The board pack: its report keys on the hand-computed fixture, and `python -m sales
board-pack` writing all four formats whose figures equal `report --format json`."""

from __future__ import annotations

import io
import json
import math
import shutil
import zipfile
from pathlib import Path

import openpyxl
import plotly.offline
import pytest
from pypdf import PdfReader

from sales.boardpack.export import find_browser
from sales.boardpack.sections import lookup
from sales.cli import main
from sales.periods import QUARTER, parse_period, period_containing
from sales.query import default_as_of
from sales.rates import default_window
from sales.report import board_figures
from sales.settings import load_settings
from sales.view import View
from tests.helpers import CHARTS, d, private_copy, run_page

SECTIONS = 5
needs_browser = pytest.mark.skipif(find_browser() is None,
                                   reason="no Chromium: install Debian's chromium or set "
                                          "CHROMIUM_PATH")


@pytest.fixture
def fixture_keys(metrics_con) -> dict:
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    return board_figures(metrics_con, view, load_settings(metrics_con),
                         default_window(view.period)).as_report()


def test_make_or_break_deals_are_the_largest_in_and_out(fixture_keys):
    # conftest.py, default rules (no saved call): Commit in (D4 300, D3 200, D2 100), Best Case
    # out (D6 500, D5 400); Pipeline D7 is neither in the number nor upside.
    deals = fixture_keys["make_or_break"]
    assert [(x["opportunity_id"], x["amount"]) for x in deals["included"]] == [
        ("D4", 300.0), ("D3", 200.0), ("D2", 100.0)]
    assert [(x["opportunity_id"], x["amount"]) for x in deals["excluded"]] == [
        ("D6", 500.0), ("D5", 400.0)]
    assert deals["included"][0]["close_date"] == "2026-11-30"


def test_in_blood_week_by_week_and_at_the_same_point(fixture_keys):
    found = fixture_keys
    # Snapshots on 2026-11-13 (day 43 of the quarter: week 7) and 2026-11-20 (week 8). The
    # default rules: closed 500 + Commit 600 = 1,100 both weeks; upside = Best Case: D6 500 on
    # the 13th (D5 was still Pipeline), D6 500 + D5 400 = 900 on the 20th.
    assert [(w["week"], w["source"], w["number"], w["upside"]) for w in found["in_blood_weekly"]] == [
        (7, "default rules", 1100.0, 500.0), (8, "default rules", 1100.0, 900.0)]
    # The four quarters before: no snapshot reaches back to them, so no number then; what
    # they finally closed: W1 100 in FY2026-Q1, W2 300 in FY2026-Q2.
    past = found["same_point"]
    assert [p["period"] for p in past] == ["FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q3"]
    assert [p["closed_won"] for p in past] == [0.0, 100.0, 300.0, 0.0]
    assert all(p["number"] is None for p in past)
    assert past[1]["as_of"] == "2026-02-20"  # 50 days in, as 2026-11-20 is into FY2026-Q4


def test_rates_per_quarter_competitors_and_segment_coverage(fixture_keys):
    by_quarter = {r["period"]: r for r in fixture_keys["rates_by_quarter"]}
    assert len(by_quarter) == 8
    # FY2026-Q1: W1 won, L1 lost to Acme → 1/2; Q2: W2 won → 1/1; Q3: L2 no decision (L3 a
    # duplicate, outside) → 0/1.
    assert [by_quarter[q]["close_rate"] for q in ("FY2026-Q1", "FY2026-Q2", "FY2026-Q3")] == [
        0.5, 1.0, 0.0]
    assert by_quarter["FY2026-Q1"]["win_rate"] == 0.5
    assert fixture_keys["top_competitors"] == [
        {"competitor": "Acme", "lost_count": 1, "lost_amount": 200.0, "won_count": 0,
         "win_rate": 0.0}]
    segments = {r["segment"]: r for r in fixture_keys["coverage_by_segment"]}
    # Enterprise (500 + 100 + 200) / 600; Mid-Market (D4 300 + D5 400) / 300.
    assert round(segments["Enterprise"]["coverage"], 6) == round(800 / 600, 6)
    assert round(segments["Mid-Market"]["coverage"], 6) == round(700 / 300, 6)
    assert fixture_keys["freshness"]["last_snapshot"] == "2026-11-20"


@pytest.fixture(scope="module")
def demo_file(demo_db, tmp_path_factory) -> Path:
    """A copy of the demo for the command line: the shared file may be held in this process
    by a page test's connection, opened with another configuration."""
    copy = tmp_path_factory.mktemp("pack-demo") / "demo.duckdb"
    shutil.copyfile(demo_db, copy)
    return copy


@pytest.fixture(scope="module")
def demo_view(demo_db, tmp_path_factory):
    con = private_copy(demo_db, tmp_path_factory.mktemp("pack-view"))
    as_of = default_as_of(con)
    period = period_containing(as_of, QUARTER, load_settings(con).fiscal_year_start_month)
    con.close()
    return period.label, as_of.isoformat()


def _report(capsys, db: Path, *argv: str) -> dict:
    assert main(["report", "--db", str(db), *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _same(cell: object, expected: object) -> bool:
    if expected is None:
        return cell is None
    if isinstance(expected, (bool, str)):
        return cell == expected
    return math.isclose(float(cell), float(expected), rel_tol=1e-9, abs_tol=1e-9)


def assert_workbook_equals_report(path: Path, report: dict) -> int:
    """Every figure in every section's sheet equals the report key it names; returns how many."""
    book = openpyxl.load_workbook(path, read_only=True)
    sheets = [s for s in book.sheetnames if s != "About"]
    assert [s.split(" ")[0] for s in sheets] == [str(n) for n in range(1, SECTIONS + 1)]
    checked = 0
    for name in sheets:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0] == ("chart", "figure", "value", "report key")
        assert len(rows) > 1, f"sheet {name} holds no figure"
        for chart, figure, value, key in rows[1:]:
            assert _same(value, lookup(report, key)), f"{name}: {chart} / {figure} ({key})"
            checked += 1
    return checked


@needs_browser
@pytest.mark.slow
def test_the_command_writes_all_four_formats(demo_file, demo_view, tmp_path, capsys):
    period, as_of = demo_view
    out = tmp_path / "pack"
    assert main(["board-pack", "--db", str(demo_file), "--period", period, "--out",
                 str(out)]) == 0
    printed = [Path(line) for line in capsys.readouterr().out.splitlines()]
    stem = f"board-pack-{period}-{as_of}"
    assert set(printed) == set(out.iterdir())
    assert {p.suffix for p in printed} == {".html", ".pdf", ".png", ".xlsx"}
    assert len([p for p in printed if p.suffix == ".png"]) == CHARTS
    # The PDF: one landscape A4 page per section.
    pages = PdfReader(out / f"{stem}.pdf").pages
    assert len(pages) == SECTIONS
    assert all(round(float(p.mediabox.width)) == 842 and round(float(p.mediabox.height)) == 595
               for p in pages)
    # The HTML: Plotly's JavaScript once, whatever the number of charts.
    html = (out / f"{stem}.html").read_text()
    assert html.count(plotly.offline.get_plotlyjs()[:500]) == 1
    assert html.count('class="page"') == SECTIONS
    assert "<script src=" not in html  # nothing to fetch
    # The workbook: every figure equals `report --format json` for the same view.
    report = _report(capsys, demo_file, "--period", period)
    assert assert_workbook_equals_report(out / f"{stem}.xlsx", report) > 100


@pytest.mark.slow
def test_the_workbook_equals_the_report_for_a_filtered_view(demo_file, demo_view, tmp_path,
                                                            capsys):
    period, as_of = demo_view
    assert main(["board-pack", "--db", str(demo_file), "--period", period, "--segment", "SMB",
                 "--region", "EMEA", "--out", str(tmp_path), "--format", "xlsx"]) == 0
    capsys.readouterr()
    report = _report(capsys, demo_file, "--period", period, "--segment", "SMB", "--region",
                     "EMEA")
    assert assert_workbook_equals_report(
        tmp_path / f"board-pack-{period}-{as_of}.xlsx", report) > 50


@needs_browser
@pytest.mark.slow
def test_letter_paper(demo_file, demo_view, tmp_path, capsys):
    period, _ = demo_view
    assert main(["board-pack", "--db", str(demo_file), "--period", period, "--out",
                 str(tmp_path), "--format", "pdf", "--paper", "letter"]) == 0
    (pdf,) = [Path(p) for p in capsys.readouterr().out.split()]
    pages = PdfReader(pdf).pages
    assert len(pages) == SECTIONS
    assert round(float(pages[0].mediabox.width)) == 792  # 11 × 8.5 in, landscape
    assert list(tmp_path.iterdir()) == [pdf]  # the HTML it printed from is not left behind


def test_without_a_browser_it_says_so_and_writes_the_rest(demo_file, demo_view, tmp_path,
                                                          capsys, monkeypatch):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-chromium"))
    period, _ = demo_view
    assert main(["board-pack", "--db", str(demo_file), "--period", period, "--out",
                 str(tmp_path / "pack")]) == 0
    captured = capsys.readouterr()
    assert {Path(p).suffix for p in captured.out.split()} == {".html", ".xlsx"}
    assert "not written: PDF: no Chromium found" in captured.err
    assert "not written: PNG: no Chromium found" in captured.err


def test_a_format_asked_for_and_not_written_is_an_error(demo_file, demo_view, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-chromium"))
    period, _ = demo_view
    out = tmp_path / "pack"
    assert main(["board-pack", "--db", str(demo_file), "--period", period, "--out", str(out),
                 "--format", "pdf,xlsx"]) == 1
    captured = capsys.readouterr()
    assert "not written: PDF: no Chromium found" in captured.err
    assert [Path(p).suffix for p in captured.out.split()] == [".xlsx"]  # the rest is written
    assert sorted(p.suffix for p in out.iterdir()) == [".xlsx"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--period", "FY2026-Q9"], "FY2026-Q9"),
    (["--period", "FY2026-Q4", "--segment", "Nope"], "--segment Nope: not in the data"),
    (["--period", "FY2026-Q4", "--format", "html,docx"], "choose from html,pdf,png,xlsx"),
    ([], "give the period"),
])
def test_bad_input_is_refused_with_a_message(argv, message, demo_file, tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["board-pack", "--db", str(demo_file), "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_empty_database_has_no_pack(empty_db, tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["board-pack", "--db", str(empty_db), "--period", "FY2026-Q4", "--out",
                 str(out)]) == 2
    assert "no opportunities in" in capsys.readouterr().err
    assert not out.exists()


def test_the_page_draws_every_section_and_says_when_there_is_no_browser(demo_db, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "no-such-chromium"))
    at = run_page("board_pack.py", demo_db, monkeypatch)
    assert [h.value for h in at.header] == ["1 The call", "2 Enough at-bats?",
                                            "3 Convincing or closing?", "4 The diagnosis",
                                            "5 Track record"]
    assert any("PDF and PNG need a browser" in w.value for w in at.warning)
    assert [b.label for b in at.get("download_button")] == ["HTML (interactive, offline)",
                                                            "XLSX (the figures)"]
    # Asking for the PDF anyway is an error that says why, not a silent skip.
    at.button(key="board_pack_make_pdf").click().run()
    assert any("The PDF could not be made: no Chromium found" in e.value for e in at.error)


@needs_browser
@pytest.mark.slow
def test_the_page_makes_the_pdf_and_the_pngs_on_a_click(demo_db, monkeypatch):
    at = run_page("board_pack.py", demo_db, monkeypatch)
    at.button(key="board_pack_make_pdf").click().run()
    at.button(key="board_pack_make_png").click().run()
    assert not at.exception and not at.error
    labels = [b.label for b in at.get("download_button")]
    assert "Download the PDF" in labels and "Download the PNG charts (ZIP)" in labels
    made = list(at.session_state["board_pack_files"].values())
    assert len(made) == 2 and made[0].startswith(b"%PDF")
    with zipfile.ZipFile(io.BytesIO(made[1])) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".png")]) == CHARTS


def test_a_large_database_prepares_the_pack_on_request(demo_db, monkeypatch):
    # Above the size where the pack's report takes seconds, the page asks first; once one
    # session prepared the pack for a view, the next one sees it at once.
    from tests.helpers import run_page
    from ui import data

    monkeypatch.setattr(data, "BOARD_PACK_ON_REQUEST_ABOVE", 10)
    data._prepared_packs().clear()  # earlier tests in this process prepared this view
    at = run_page("board_pack.py", demo_db, monkeypatch)
    assert "takes a few seconds" in at.info[0].value and not at.header
    at.button(key="board_pack_prepare").click().run()
    assert not at.exception and [h.value for h in at.header][:1] == ["1 The call"]
    again = run_page("board_pack.py", demo_db, monkeypatch)
    assert [h.value for h in again.header][:1] == ["1 The call"]
