"""The board pack: the forecast as a leadership-ready document.

`figures` adds the report keys the pack draws (`report --format json` carries them, so every
figure in the pack is a report key); `sections` turns a report into the pack's five sections;
`charts` draws them; `document` writes the HTML and the XLSX; `export` the PDF and PNG through
headless Chromium; `build` ties it together for the command and the page.
"""
