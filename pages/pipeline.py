"""Pipeline by category: forecast category × any dimension, with the deals behind any cell."""

import streamlit as st

from sales import formatting as fmt
from sales.export import csv_bytes
from sales.pivots import COUNT_SUFFIX, cell_categories, pivot_both
from sales.query import GROUP_DIMENSIONS
from sales.rollup import FORECAST_TOTAL, TOTAL_ROW, pivot
from sales.stages import OMITTED, REPORT_CATEGORIES, TOTAL_CATEGORIES, UNQUALIFIED
from ui import page, widgets
from ui.data import cell_deals, rollup_by

MEASURES = {"amount": "Amount", "count": "Count", "both": "Amount and count"}
# Unqualified and Omitted never enter the total: greyed, so they read as apart.
APART_STYLE = "background-color: #f1f3f5; color: #6c757d"

view = page.start("Pipeline by category")

# The drill's "category" choices: each category, or the forecast total's four together.
CELL_CHOICES = [*REPORT_CATEGORIES, FORECAST_TOTAL]


@st.fragment
def pivot_and_drill(view) -> None:
    """The pivot and the deals behind a cell: choosing rows, a measure or a cell redraws only
    this, not the app around it."""
    left, right = st.columns([2, 1])
    dimension = left.selectbox("Rows", list(GROUP_DIMENSIONS), key="pivot_dimension",
                               format_func=str.capitalize)
    measure = right.radio("Measure", list(MEASURES), horizontal=True, key="pivot_measure",
                          format_func=MEASURES.get)

    rolled = rollup_by(view, dimension)
    if rolled.empty:
        st.info(f"No deals close in {view.period.label} for this filter — widen the filter or pick "
                "another period.")
        return
    table = pivot_both(rolled, dimension) if measure == "both" else pivot(rolled, dimension, measure)
    money = widgets.money_column
    columns = {}
    for column in table.columns:
        if column == dimension:
            columns[column] = dimension.capitalize()
        elif column.endswith(COUNT_SUFFIX) or measure == "count":
            columns[column] = st.column_config.NumberColumn(column, format="%d")
        else:
            columns[column] = money(column)
    apart = [c for c in table.columns if c.removesuffix(COUNT_SUFFIX) in (UNQUALIFIED, OMITTED)]

    def _drill_from_cell() -> None:
        """A clicked cell chooses the deals listed below it: its category (the Total column: the
        four it adds up) and its row (the Total row: every value)."""
        cells = st.session_state["pivot_table"].selection.cells
        if cells:
            row, column = cells[0]
            categories = cell_categories(column)
            if categories is not None:
                st.session_state["drill_category"] = (FORECAST_TOTAL if len(categories) > 1
                                                      else categories[0])
            value = table.iloc[row][dimension]
            st.session_state["drill_value"] = "(all)" if value == TOTAL_ROW else value


    st.caption(f"{FORECAST_TOTAL} = Closed + Commit + Best Case + Pipeline; Unqualified (open, not yet "
               "accepted) and Omitted (closed without a win) are shown apart, greyed, and never "
               "counted in it. Click any cell — totals too — to list its deals.")
    st.dataframe(table.style.map(lambda _: APART_STYLE, subset=apart), hide_index=True,
                 width="stretch", key="pivot_table", on_select=_drill_from_cell,
                 selection_mode="single-cell", column_config=columns)
    st.download_button("Download CSV", csv_bytes(table),
                       file_name=f"pipeline-{dimension}-{measure}-{view.period.label}.csv",
                       mime="text/csv")

    st.subheader("Deals behind a cell")
    values = [v for v in table[dimension] if v != TOTAL_ROW]
    left, right = st.columns(2)
    category = left.selectbox(
        "Category", CELL_CHOICES, key="drill_category",
        format_func=lambda c: f"{c} ({' + '.join(TOTAL_CATEGORIES)})" if c == FORECAST_TOTAL else c)
    if st.session_state.get("drill_value") not in ["(all)", *values]:
        st.session_state.pop("drill_value", None)
    value = right.selectbox(dimension.capitalize(), ["(all)", *values], key="drill_value")
    categories = TOTAL_CATEGORIES if category == FORECAST_TOTAL else (category,)
    deals, total, amount = cell_deals(view, categories, dimension,
                                      None if value == "(all)" else value)
    if deals.empty:
        st.info(f"No {category} deals for this cell.")
    else:
        shown = f"largest {len(deals):,} of {total:,}" if total > len(deals) else f"{total:,}"
        st.caption(f"{shown} deals · the cell's {fmt.money(amount, precise=True)} "
                   f"({fmt.money(float(deals['amount'].sum()), precise=True)} shown)")
        widgets.deal_table(deals, f"deals-{category}-{view.period.label}.csv")


pivot_and_drill(view)
