"""Pipeline by category: forecast category × any dimension, with the deals behind a cell."""

import streamlit as st

from sales import formatting as fmt
from sales.query import GROUP_COLUMNS
from sales.rollup import FORECAST_TOTAL, TOTAL_ROW, pivot
from sales.stages import REPORT_CATEGORIES
from ui import data, page, widgets

view = page.start("Pipeline by category")

left, right = st.columns([2, 1])
dimension = left.selectbox("Rows", list(GROUP_COLUMNS), key="pivot_dimension",
                           format_func=str.capitalize)
measure = right.radio("Measure", ["amount", "count"], horizontal=True, key="pivot_measure",
                      format_func=str.capitalize)

rolled = data.fetch("rollup_by", view, dimension)
if rolled.empty:
    st.info(f"No deals close in {view.period.label} for this filter — widen the filter or pick "
            "another period.")
    st.stop()
table = pivot(rolled, dimension, measure)
money = measure == "amount"
column = widgets.money_column if money else (lambda label: st.column_config.NumberColumn(label))


def _drill_from_cell() -> None:
    """A clicked cell chooses the deals listed below it."""
    cells = st.session_state["pivot_table"].selection.cells
    if cells:
        row, category = cells[0]
        if category in REPORT_CATEGORIES:
            st.session_state["drill_category"] = category
        value = table.iloc[row][dimension]
        if value != TOTAL_ROW:
            st.session_state["drill_value"] = value


st.caption(f"{FORECAST_TOTAL} = Closed + Commit + Best Case + Pipeline; Unqualified and Omitted "
           "are shown apart. Click a cell to list its deals.")
st.dataframe(table, hide_index=True, width="stretch", key="pivot_table", on_select=_drill_from_cell,
             selection_mode="single-cell",
             column_config={dimension: dimension.capitalize(),
                            **{c: column(c) for c in (*REPORT_CATEGORIES, FORECAST_TOTAL)}})
st.download_button("Download CSV", table.to_csv(index=False).encode(),
                   file_name=f"pipeline-{dimension}-{view.period.label}.csv", mime="text/csv")

st.subheader("Deals behind a cell")
values = [v for v in table[dimension] if v != TOTAL_ROW]
left, right = st.columns(2)
category = left.selectbox("Category", REPORT_CATEGORIES, key="drill_category")
if st.session_state.get("drill_value") not in values:
    st.session_state.pop("drill_value", None)
value = right.selectbox(dimension.capitalize(), ["(all)", *values], key="drill_value")
deals, total = data.fetch("period_deals", view, category,
                          None if value == "(all)" else dimension,
                          None if value == "(all)" else value)
if deals.empty:
    st.info(f"No {category} deals for this cell.")
else:
    shown = f"largest {len(deals):,} of {total:,}" if total > len(deals) else f"{total:,}"
    st.caption(f"{shown} deals · {fmt.money(deals['amount'].sum())} shown")
    widgets.deal_table(deals, f"deals-{category}-{view.period.label}.csv")
