"""SQL for analysts: read-only queries on a copy of the database, with the schema beside them."""

import streamlit as st

from sales import console
from sales import formatting as fmt
from sales.access import MANAGE_DATA
from sales.export import csv_bytes
from ui import page, state, widgets
from ui.data import schema_columns

page.start("SQL", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():
    widgets.empty_database()

st.caption(f"One SELECT at a time on a read-only copy of the database taken at data version "
           f"{state.version()}: no writes, no access to other files, the first "
           f"{fmt.count(console.ROW_CAP)} rows or {console.BYTE_CAP / 1e6:,.0f} MB, and "
           f"{console.TIME_LIMIT_S:.0f} s per query. The same tables open in any DuckDB client "
           "(README, \"SQL and the schema for analysts\").")

query_col, schema_col = st.columns([3, 2])
with query_col:
    example = st.selectbox("Start from an example", ["(none)", *console.EXAMPLES],
                           key="sql_example")
    if example != "(none)" and st.session_state.get("sql_example_used") != example:
        st.session_state["sql_text"] = console.EXAMPLES[example]
        st.session_state["sql_example_used"] = example
    with st.form("sql_form", border=False):
        sql = st.text_area("SQL", key="sql_text", height=180,
                           placeholder="select stage, count(*) from opportunities group by 1")
        run = st.form_submit_button("Run", type="primary")
    if run and sql.strip():
        try:
            result = console.run_query(state.database_path(), state.version(), sql)
        except console.QueryRejected as error:
            st.error(f"Not run: {fmt.text(error)}")
        else:
            st.caption(f"{fmt.count(len(result.frame))} row(s) in {result.seconds:.2f} s"
                       + (f" — {result.cut}" if result.cut else ""))
            st.dataframe(result.frame, hide_index=True, width="stretch")
            st.download_button("Download CSV", csv_bytes(result.frame), file_name="query.csv",
                               mime="text/csv", key="sql_download")
    elif run:
        st.info("Write a query first.")

with schema_col:
    st.markdown("**Schema**")
    columns = schema_columns()
    for table, group in columns.groupby("table_name", sort=False):
        about = group["about"].iloc[0]
        with st.expander(f"`{table}`" + (f" — {about}" if about else "")):
            st.dataframe(group[["column_name", "data_type"]], hide_index=True, width="stretch",
                         column_config={"column_name": "Column", "data_type": "Type"})
