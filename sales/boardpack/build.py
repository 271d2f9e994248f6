"""The board pack for a view: its report (`sales.report.board_report`), its sections, and the
files — HTML, PDF, PNG per chart, XLSX — for the command and the page."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from sales.boardpack import document
from sales.boardpack.export import NO_BROWSER, BrowserError, find_browser, write_pdf, write_pngs
from sales.boardpack.sections import Chart, Section, footer, sections
from sales.report import Report, board_report
from sales.view import View

FORMATS = ("html", "pdf", "png", "xlsx")
BROWSER_FORMATS = ("pdf", "png")
Progress = Callable[[float, str], None]


@dataclass
class Pack:
    """A built pack: the report it reads, its sections and the footer of every page."""

    report: dict
    sections: list[Section]
    footer: str
    generated_at: str

    @property
    def title(self) -> str:
        filters = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.report["filters"].items())
        return (f"Board pack {self.report['period']} as of {self.report['as_of']}"
                + (f" ({filters})" if filters else ""))

    @property
    def stem(self) -> str:
        """The files' common name: board-pack-FY2027-Q4-2026-11-23."""
        return f"board-pack-{self.report['period']}-{self.report['as_of']}"

    def charts(self) -> list[tuple[str, Chart]]:
        """Every chart with its PNG's file stem: board-pack-…-1-call-vs-past-quarters."""
        return [(f"{self.stem}-{s.number}-{c.slug}", c) for s in self.sections
                for c in s.charts]

    def html(self, paper: str = document.DEFAULT_PAPER) -> str:
        return document.html_document(self.title, self.sections, self.footer, paper)

    def xlsx(self) -> bytes:
        about = {"pack": self.title, "period": self.report["period"],
                 "as of": self.report["as_of"], "snapshot": self.report["snapshot_date"],
                 "filters": "; ".join(f"{k}: {', '.join(v)}"
                                      for k, v in self.report["filters"].items()) or "none",
                 "last import": self.report["freshness"]["last_import"],
                 "latest snapshot": self.report["freshness"]["last_snapshot"],
                 "generated": self.generated_at,
                 "values": "exact (amounts in the database's currency, rates as fractions, "
                           "coverage as multiples); `report key` names the key of "
                           "`python -m sales report --format json` each figure is"}
        return document.xlsx_document(self.sections, about)


def pack_from_report(report: Report, generated_at: datetime | None = None) -> Pack:
    """The pack's sections and footer for a report made by `sales.report.board_report`: each
    figure is read from the report's keys, as `report --format json` prints them."""
    when = (generated_at or datetime.now()).isoformat(sep=" ", timespec="minutes")
    keys = report.as_report()
    return Pack(keys, sections(keys), footer(keys, when), when)


def build_pack(con: duckdb.DuckDBPyConnection, view: View, use_saved_call: bool = True,
               generated_at: datetime | None = None, progress: Progress | None = None) -> Pack:
    """The pack for the view, from its report."""
    return pack_from_report(board_report(con, view, use_saved_call, progress), generated_at)


def pdf_bytes(pack: Pack, paper: str = document.DEFAULT_PAPER,
              browser: str | None = None) -> bytes:
    """The pack printed to PDF; BrowserError when there is no browser or it fails."""
    browser = browser or find_browser()
    if browser is None:
        raise BrowserError(NO_BROWSER)
    with tempfile.TemporaryDirectory(prefix="board-pack-") as folder:
        source = Path(folder) / f"{pack.stem}.html"
        source.write_text(pack.html(paper), encoding="utf-8")
        return write_pdf(source, Path(folder) / f"{pack.stem}.pdf", browser).read_bytes()


def png_zip(pack: Pack, browser: str | None = None) -> bytes:
    """Every chart as a slide-sized PNG, in one ZIP (the page's download)."""
    browser = browser or find_browser()
    if browser is None:
        raise BrowserError(NO_BROWSER)
    with tempfile.TemporaryDirectory(prefix="board-pack-") as folder:
        paths = write_pngs(pack.charts(), Path(folder), browser)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.name)
        return buffer.getvalue()


@dataclass
class Written:
    paths: list[Path]
    skipped: list[str]  # what was not written, and why


def write_pack(pack: Pack, folder: Path, formats: tuple[str, ...] = FORMATS,
               paper: str = document.DEFAULT_PAPER, progress: Progress | None = None,
               browser: str | None = None) -> Written:
    """Write the formats asked for into `folder` (made if missing). PDF and PNG need a
    browser: without one they are skipped and said so, and the rest is written."""
    say = progress or (lambda fraction, message: None)
    folder.mkdir(parents=True, exist_ok=True)
    browser = browser or find_browser()
    paths: list[Path] = []
    skipped: list[str] = []
    html_path = folder / f"{pack.stem}.html"
    if "html" in formats or "pdf" in formats:
        say(0.45, "Writing the HTML document")
        html_path.write_text(pack.html(paper), encoding="utf-8")
        if "html" in formats:
            paths.append(html_path)
    if "xlsx" in formats:
        say(0.5, "Writing the XLSX workbook")
        path = folder / f"{pack.stem}.xlsx"
        path.write_bytes(pack.xlsx())
        paths.append(path)
    wanted = [kind for kind in BROWSER_FORMATS if kind in formats]
    if wanted and browser is None:
        skipped += [f"{kind.upper()}: {NO_BROWSER}" for kind in wanted]
    elif wanted:
        say(0.6, "Printing the PDF and drawing the charts in Chromium" if len(wanted) == 2
            else f"Making the {wanted[0].upper()} in Chromium")
        # The PDF prints in its own Chromium process while Kaleido draws in another.
        pictures: list[Path] = []
        with ThreadPoolExecutor(max_workers=1) as pool:
            printing = (pool.submit(write_pdf, html_path, folder / f"{pack.stem}.pdf", browser)
                        if "pdf" in wanted else None)
            if "png" in wanted:
                try:
                    pictures = write_pngs(pack.charts(), folder, browser)
                except BrowserError as error:
                    skipped.append(f"PNG: {error}")
            if printing is not None:
                try:
                    paths.append(printing.result())
                except BrowserError as error:
                    skipped.append(f"PDF: {error}")
        paths += pictures
    if "html" not in formats and "pdf" in formats:
        html_path.unlink(missing_ok=True)  # only the PDF's source
    say(1.0, "Done")
    return Written(paths, skipped)
