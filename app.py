"""Router and picture frame: page config, the shared sidebar, the page list, navigation."""

import streamlit as st

from ui import sidebar, state

st.set_page_config(page_title="Sales forecast", page_icon=":material/monitoring:", layout="wide")
state.ensure_database()

pages = {
    "Forecast": [
        st.Page("pages/overview.py", title="Overview", icon=":material/target:", default=True),
        st.Page("pages/inblood.py", title="In-blood call", icon=":material/how_to_reg:"),
        st.Page("pages/forecast_call.py", title="Forecast call", icon=":material/record_voice_over:"),
        st.Page("pages/smb_forecast.py", title="SMB forecast", icon=":material/functions:"),
    ],
    "Pipeline": [
        st.Page("pages/pipeline.py", title="Pipeline by category", icon=":material/table_chart:"),
        st.Page("pages/coverage.py", title="Coverage", icon=":material/stacked_line_chart:"),
    ],
    "Diagnostics": [
        st.Page("pages/rates.py", title="Close & win rates", icon=":material/query_stats:"),
        st.Page("pages/funnel.py", title="Funnel & velocity", icon=":material/filter_alt:"),
    ],
    "Planning": [st.Page("pages/plan.py", title="Plan attainment", icon=":material/flag:")],
    "Data": [
        st.Page("pages/database.py", title="Database", icon=":material/database:"),
        st.Page("pages/data_import.py", title="Import", icon=":material/upload_file:"),
        st.Page("pages/data_deals.py", title="Deal explorer", icon=":material/manage_search:"),
        st.Page("pages/data_settings.py", title="Maps, targets & settings",
                icon=":material/tune:"),
        st.Page("pages/data_sql.py", title="SQL", icon=":material/terminal:"),
    ],
}
navigation = st.navigation(pages)
sidebar.render()
navigation.run()
