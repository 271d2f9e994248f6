"""PDF and PNG through a headless Chromium: the HTML document printed to PDF (one landscape
page per section), and each chart as a slide-sized PNG through Plotly's Kaleido.

The browser is `$CHROMIUM_PATH`, else the first of chromium, chromium-browser, google-chrome
on PATH (Debian's `chromium` package). Without one, `find_browser` returns None and the
callers say so and write the other formats.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from sales.boardpack.document import SLIDE_SCALE, SLIDE_SIZE
from sales.boardpack.sections import Chart

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags for a sandboxed machine with no network: no background services phoning out.
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions")
# Time the page gets to run its scripts (drawing the charts) before it is printed, in
# virtual milliseconds; and the wall-clock limit for the whole print.
PRINT_BUDGET_MS = 20_000
PRINT_TIMEOUT_S = 120
NO_BROWSER = ("no Chromium found (install Debian's `chromium`, or set CHROMIUM_PATH to a "
              "Chrome or Chromium executable)")


class BrowserError(RuntimeError):
    """The browser was there but did not produce the file."""


def find_browser() -> str | None:
    """The Chromium to print and draw with, or None."""
    named = os.environ.get("CHROMIUM_PATH")
    if named:
        return named if Path(named).is_file() and os.access(named, os.X_OK) else None
    return next((found for name in BROWSER_NAMES if (found := shutil.which(name))), None)


def write_pdf(html_path: Path, pdf_path: Path, browser: str) -> Path:
    """Print the HTML document to PDF with the page size its CSS asks for."""
    with tempfile.TemporaryDirectory(prefix="board-pack-chromium-") as profile:
        command = [browser, *BROWSER_FLAGS, f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", f"--virtual-time-budget={PRINT_BUDGET_MS}",
                   "--run-all-compositor-stages-before-draw",
                   f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=PRINT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise BrowserError(f"Chromium could not print the PDF: {error}") from None
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise BrowserError("Chromium did not write the PDF: " + " / ".join(tail))
    return pdf_path


def write_pngs(charts: list[tuple[str, Chart]], folder: Path, browser: str) -> list[Path]:
    """Each chart as a PNG at slide resolution (1920 × 1080), named `<file stem>.png`, in one
    Kaleido session on `browser`."""
    import kaleido  # only loaded when images are asked for

    os.environ.setdefault("BROWSER_PATH", browser)  # where Kaleido's choreographer looks
    width, height = SLIDE_SIZE
    paths = [folder / f"{stem}.png" for stem, _ in charts]

    async def draw() -> None:
        async with kaleido.Kaleido(n=1, mathjax=False) as session:
            for (_, chart), path in zip(charts, paths, strict=True):
                figure = go.Figure(chart.figure).update_layout(  # a copy: the page keeps its
                    title=dict(text=chart.title, x=0.02, y=0.97),  # own, untitled
                    margin_t=80)
                await session.write_fig(figure, path=str(path),
                                        opts={"format": "png", "width": width,
                                              "height": height, "scale": SLIDE_SCALE})

    try:
        asyncio.run(draw())
    except Exception as error:  # noqa: BLE001 - the browser's failures come in many types
        raise BrowserError(f"Kaleido could not draw the charts: {error}") from None
    return paths
