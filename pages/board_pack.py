"""Board pack: the forecast as the document leadership takes into the board — the call, enough
at-bats?, convincing or closing?, the diagnosis, the track record — with its downloads (HTML,
PDF, PNG per chart, XLSX). Every figure is a key of the report for this view."""

import streamlit as st

from sales import formatting as fmt
from sales.boardpack.build import pack_from_report, pdf_bytes, png_zip
from sales.boardpack.document import PAPERS
from sales.boardpack.export import NO_BROWSER, BrowserError, find_browser
from sales.export import XLSX_MIME
from ui import page
from ui.data import board_pack_prepared, board_pack_ready, board_report, opportunity_count

view = page.start("Board pack", caption="every figure is a key of `python -m sales report` "
                                        "for this view")
if not board_pack_ready(view):
    st.info(f"The board pack reads every snapshot of the last five quarters of "
            f"{opportunity_count():,} opportunities: it takes a few seconds. Prepare it for this "
            "view; everyone who opens the same view then sees it at once.")
    if not st.button("Prepare the board pack", type="primary", key="board_pack_prepare",
                     icon=":material/summarize:"):
        st.stop()
with st.spinner("Computing the pack's figures…"):
    pack = pack_from_report(board_report(view))
board_pack_prepared(view)

# --- Downloads first: this page is where the board's document is made.
paper = st.radio("PDF paper (landscape)", list(PAPERS), horizontal=True, key="board_pack_paper",
                 format_func=str.upper)
browser = find_browser()
columns = st.columns(4)
columns[0].download_button("HTML (interactive, offline)", lambda: pack.html(paper).encode(),
                           file_name=f"{pack.stem}.html", mime="text/html",
                           key="board_pack_html", icon=":material/language:")
columns[3].download_button("XLSX (the figures)", pack.xlsx, file_name=f"{pack.stem}.xlsx",
                           mime=XLSX_MIME, key="board_pack_xlsx", icon=":material/table:")
made = st.session_state.setdefault("board_pack_files", {})
for column, kind, label in ((columns[1], "pdf", "PDF"), (columns[2], "png", "PNG charts (ZIP)")):
    name = f"{pack.stem}{'-' + paper if kind == 'pdf' else '-charts'}.{'pdf' if kind == 'pdf' else 'zip'}"
    made_key = f"{name}|{pack.title}|{pack.report['freshness']['last_import']}"
    if made_key in made:
        column.download_button(f"Download the {label}", made[made_key], file_name=name,
                               mime="application/pdf" if kind == "pdf" else "application/zip",
                               key=f"board_pack_{kind}", icon=":material/download:")
    elif column.button(f"Make the {label}", key=f"board_pack_make_{kind}",
                       help="Drawn in headless Chromium on the server: a few seconds."):
        # Without a browser the click still says why the file the user asked for is missing.
        with st.spinner(f"Making the {label} in Chromium…"):
            try:
                made[made_key] = pdf_bytes(pack, paper, browser) if kind == "pdf" else png_zip(
                    pack, browser)
            except BrowserError as error:
                st.error(f"The {label} could not be made: {error}")
            else:
                st.rerun()
if browser is None:
    st.warning(f"PDF and PNG need a browser on the server: {NO_BROWSER}. The HTML and XLSX "
               "downloads work; `python -m sales board-pack` says the same and writes the rest.")

# --- The sections, in the order the board conversation runs.
for section in pack.sections:
    st.header(f"{section.number} {section.title}", divider="blue")
    st.caption(section.question)
    if section.tiles:
        tiles = st.columns(len(section.tiles))
        for tile, place in zip(section.tiles, tiles, strict=True):
            place.metric(tile.label, tile.value, delta=tile.note or None, delta_color="off",
                         delta_arrow="off", border=True)
    for sentence in section.sentences:
        st.markdown(f"- {fmt.text(sentence)}")
    charts = st.columns(min(len(section.charts), 3)) if section.charts else []
    for index, chart in enumerate(section.charts):
        with charts[index % len(charts)]:
            st.markdown(f"**{fmt.text(chart.title)}**")
            st.plotly_chart(chart.figure, width="stretch", key=f"board_pack_{chart.slug}")
    for table in section.tables:
        st.markdown(f"**{fmt.text(table.title)}**")
        st.dataframe(table.frame, hide_index=True, width="stretch")
    for note in section.notes:
        st.caption(fmt.text(note))
st.divider()
st.caption(fmt.text(pack.footer))
