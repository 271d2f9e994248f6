"""The board pack: the forecast as a leadership-ready document.

The pack computes nothing: `sales.report.board_report` composes the figures it draws from the
domain modules (`report --format json` carries the same keys, so every figure in the pack is a
report key); `sections` turns those keys into the pack's five sections;
`charts` draws them; `document` writes the HTML and the XLSX; `export` the PDF and PNG through
headless Chromium; `build` ties it together for the command and the page.
"""
