"""Drawing helpers shared by pages: empty states, tiles, downloadable tables, colours."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from sales import formatting as fmt
from sales.charts import CATEGORY_COLOURS  # noqa: F401 - the pages' colours, from one place
from sales.export import csv_bytes
from sales.view import View
from ui.state import database_path


def empty_database() -> None:
    """What an empty database says instead of numbers."""
    path = database_path()
    st.info(
        f"**No opportunities in this database yet** (`{path}`).\n\n"
        "- Import a CRM export on the **Data › Import** page, or from a terminal: "
        f"`python -m sales import opportunities.csv --db {path}` (Salesforce and common report "
        "headers are recognised; the README shows a mapping file for anything else)\n"
        f"- Or build the demo: `python -m sales demo --db {path}`\n"
        "- Or point the app at another file: `SALES_DB=path/to/file.duckdb streamlit run app.py`"
    )


def view_caption(view: View, extra: str = "") -> None:
    filters = "; ".join(f"{k}: {', '.join(fmt.text(x) for x in v)}"
                        for k, v in view.filters.active().items())
    parts = [f"{view.period.label} ({view.period.start:%d %b %Y} – {view.period.end:%d %b %Y})",
             f"as of {view.as_of:%d %b %Y}", f"filters: {filters or 'none'}"]
    if extra:
        parts.append(extra)
    st.caption(" · ".join(parts))


def table(frame: pd.DataFrame, file_name: str, *, row_style: Callable | None = None,
          column_order: list[str] | None = None, **column_config) -> None:
    """A sortable table with a CSV download of its numbers.

    `row_style(row) -> list of CSS strings, one per cell` colours rows on screen (the download
    stays plain numbers); `column_order` picks and orders the columns shown."""
    shown = frame if row_style is None else _styled(frame, row_style, column_order)
    st.dataframe(shown, hide_index=True, width="stretch", column_order=column_order,
                 column_config=column_config or None)
    # The CSV is written when the button is clicked, not on every rerun of the page.
    st.download_button("Download CSV", lambda: csv_bytes(frame),
                       file_name=file_name, mime="text/csv", key=f"download-{file_name}")


def _styled(frame: pd.DataFrame, row_style: Callable, columns: list[str] | None):
    """The frame's shown columns with each cell's CSS from `row_style` (which may read the
    hidden ones). pandas' Styler renders every cell it holds, and its cost grows with them:
    styling only what is shown took the key deals' table from 21 to 13 ms."""
    css = pd.DataFrame([row_style(row) for _, row in frame.iterrows()],
                       index=frame.index, columns=frame.columns)
    columns = columns or list(frame.columns)
    return frame[columns].style.apply(lambda _: css[columns], axis=None)


def money_column(label: str) -> st.column_config.NumberColumn:
    """Whole dollars with thousands separators; a fall reads "-$501,500" (the printf format
    "$%,.0f" would write "$-501,500")."""
    return st.column_config.NumberColumn(label, format="dollar", step=1)


def percent_column(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="percent")


# Labels for the columns of sales.deals.DEAL_COLUMNS, as a sales manager reads them.
_DEAL_LABELS = {
    "opportunity_id": "Opportunity", "name": "Name", "account_name": "Account", "owner": "Owner",
    "team": "Team", "segment": "Segment", "region": "Region", "type": "Type",
    "channel": "Channel", "category": "Category", "stage": "Stage", "close_date": "Close date",
    "created_date": "Created", "competitor": "Competitor", "lost_reason": "Lost reason",
    "loss_class": "Loss class", "renewal_risk": "Renewal risk", "next_step": "Next step",
}


def deal_table(frame: pd.DataFrame, file_name: str) -> None:
    """A list of deals with readable headers, money formatted, sortable and downloadable."""
    config = {column: label for column, label in _DEAL_LABELS.items() if column in frame}
    table(frame, file_name, amount=money_column("Amount"), **config)
