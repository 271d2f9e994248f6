"""The board pack as files: one self-contained HTML document (Plotly's JavaScript inlined once,
every chart interactive, no network needed to open it; one landscape page per section when
printed) and an XLSX workbook with a sheet per section holding the figures behind it.

Text from data (segments, owners, accounts, filter values) is escaped for HTML; the workbook
is written through `sales.export`, which neutralises anything a spreadsheet would run.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.io as pio
import plotly.offline

from sales.boardpack.sections import Chart, Section
from sales.export import xlsx_bytes

# Paper sizes (landscape: width, height in mm) the PDF can be printed on.
PAPERS = {"a4": (297.0, 210.0), "letter": (279.4, 215.9)}
DEFAULT_PAPER = "a4"
MARGIN_MM = 8.0
# Chart boxes per section layout, in CSS pixels; they fit the smaller of the two papers.
_BOXES = {1: (720, 440), 2: (484, 440), 3: (318, 440)}
_DIAGNOSIS_CHART = (470, 230)
SLIDE_SIZE = (1280, 720)  # a chart's PNG: 16:9, written at SLIDE_SCALE
SLIDE_SCALE = 1.5  # → 1920 × 1080

_STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #2c7fb8; }
* { box-sizing: border-box; }
body { margin: 0; background: #e4e7eb; color: var(--ink);
       font-family: Inter, 'Helvetica Neue', Arial, sans-serif; font-size: 13px; }
.page { width: var(--page-w); height: var(--page-h); padding: var(--margin);
        margin: 16px auto; background: white; box-shadow: 0 2px 8px rgba(0,0,0,.15);
        display: flex; flex-direction: column; overflow: hidden; position: relative; }
.page header { display: flex; align-items: baseline; gap: 12px;
               border-bottom: 3px solid var(--accent); padding-bottom: 4px; }
.page header .number { font-size: 26px; font-weight: 700; color: var(--accent); }
.page header h2 { margin: 0; font-size: 24px; }
.page header .question { color: var(--muted); font-size: 15px; margin-left: auto; }
.tiles { display: flex; gap: 10px; margin: 10px 0 6px; }
.tile { flex: 1; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.tile .label { color: var(--muted); font-size: 12px; }
.tile .value { font-size: 22px; font-weight: 700; white-space: nowrap; }
.tile .note { color: var(--muted); font-size: 11px; }
.body { display: flex; flex-wrap: wrap; gap: 8px 16px; flex: 1; align-content: flex-start; }
.chart h3, .table h3 { margin: 4px 0 0; font-size: 13px; }
.sentences { width: 100%; margin: 4px 0; padding-left: 18px; }
.sentences li { font-size: 15px; margin: 3px 0; }
.table table { border-collapse: collapse; font-size: 11px; }
.table th, .table td { border-bottom: 1px solid var(--line); padding: 2px 6px; text-align: left; }
.table td.amount { text-align: right; }
.notes { color: var(--muted); font-size: 11px; margin: 2px 0; }
.notes p { margin: 1px 0; }
footer { border-top: 1px solid var(--line); color: var(--muted); font-size: 10px;
         padding-top: 3px; margin-top: auto; }
.title { text-align: center; color: var(--muted); margin: 16px; font-size: 12px; }
@media print {
  body { background: white; }
  .page { margin: 0; box-shadow: none; }
  .page + .page { break-before: page; }
  .title { display: none; }
  .modebar-container { display: none; }
}
.diagnosis-row { display: flex; gap: 16px; width: 100%; }
.diagnosis-row > div { flex: 1; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _chart_html(chart: Chart, size: tuple[int, int]) -> str:
    body = pio.to_html(chart.figure, full_html=False, include_plotlyjs=False,
                       div_id=f"chart-{chart.slug}", default_width=f"{size[0]}px",
                       default_height=f"{size[1]}px",
                       config={"displaylogo": False, "responsive": False})
    return (f'<div class="chart" data-chart="{_e(chart.slug)}"><h3>{_e(chart.title)}</h3>'
            f"{body}</div>")


def _table_html(title: str, frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(
        f'<td class="{"amount" if c == "Amount" else ""}">{_e(v)}</td>'
        for c, v in row.items()) + "</tr>" for row in frame.to_dict("records"))
    if not len(frame):
        rows = f'<tr><td colspan="{len(frame.columns)}">none</td></tr>'
    return (f'<div class="table"><h3>{_e(title)}</h3><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _section_html(section: Section, footer: str) -> str:
    tiles = "".join(f'<div class="tile"><div class="label">{_e(t.label)}</div>'
                    f'<div class="value">{_e(t.value)}</div><div class="note">{_e(t.note)}'
                    "</div></div>" for t in section.tiles)
    parts = []
    if section.sentences:
        parts.append('<ul class="sentences">' + "".join(f"<li>{_e(s)}</li>"
                                                         for s in section.sentences) + "</ul>")
    if section.slug == "diagnosis":  # the rules beside the chart, the two lists of deals
        rules, *deals = section.tables
        parts.append('<div class="diagnosis-row">' + _table_html(rules.title, rules.frame)
                     + "".join(_chart_html(c, _DIAGNOSIS_CHART) for c in section.charts)
                     + "</div>")
        parts.append('<div class="diagnosis-row">'
                     + "".join(_table_html(t.title, t.frame) for t in deals) + "</div>")
    else:
        size = _BOXES.get(len(section.charts), _BOXES[2])
        parts += [_chart_html(c, size) for c in section.charts]
        parts += [_table_html(t.title, t.frame) for t in section.tables]
    notes = "".join(f"<p>{_e(n)}</p>" for n in section.notes)
    return (f'<section class="page" id="{_e(section.slug)}" data-section="{section.number}">'
            f'<header><span class="number">{section.number}</span><h2>{_e(section.title)}</h2>'
            f'<span class="question">{_e(section.question)}</span></header>'
            f'<div class="tiles">{tiles}</div><div class="body">{"".join(parts)}</div>'
            f'<div class="notes">{notes}</div><footer>{_e(footer)}</footer></section>')


def html_document(title: str, sections: list[Section], footer: str,
                  paper: str = DEFAULT_PAPER) -> str:
    """The pack as one HTML file: Plotly's JavaScript inlined once in the head, then one page
    per section, each ending with the footer. Printed, each section is one landscape page of
    `paper` (a4 or letter)."""
    width, height = PAPERS[paper]
    page = (f":root {{ --page-w: {width}mm; --page-h: {height}mm; --margin: {MARGIN_MM}mm; }}"
            f"@page {{ size: {width}mm {height}mm; margin: 0; }}")
    body = "".join(_section_html(s, footer) for s in sections)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title><style>{_STYLE}{page}</style>"
            f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script></head>'
            f'<body><div class="title">{_e(title)}</div>{body}</body></html>')


def xlsx_document(sections: list[Section], about: dict[str, object]) -> bytes:
    """One sheet per section with every figure behind its tiles and charts (exact values, and
    the report key each comes from), and an About sheet: the view and when it was made."""
    sheets = {f"{s.number} {s.title.rstrip('?')}": s.figures for s in sections}
    sheets["About"] = pd.DataFrame([(k, v) for k, v in about.items()],
                                   columns=["item", "value"])
    return xlsx_bytes(sheets)
