"""Router and picture frame: page config, who may see what, the shared sidebar, the page list,
navigation."""

import streamlit as st

from sales.access import MANAGE_DATA
from ui import auth, sidebar, streamlit_hooks

streamlit_hooks.install()  # once per process: deep links and renders without a 40 ms wait
st.set_page_config(page_title="Sales forecast", page_icon=":material/monitoring:", layout="wide")
me = auth.gate(entry=True)  # the sign-in screen, or "no access yet", stop here

pages = {
    "Forecast": [
        st.Page("pages/overview.py", title="Overview", icon=":material/target:", default=True),
        st.Page("pages/inblood.py", title="In-blood call", icon=":material/how_to_reg:"),
        st.Page("pages/forecast_call.py", title="Forecast call", icon=":material/record_voice_over:"),
        st.Page("pages/rollup.py", title="Roll-up", icon=":material/account_tree:"),
        st.Page("pages/smb_forecast.py", title="SMB forecast", icon=":material/functions:"),
        st.Page("pages/board_pack.py", title="Board pack", icon=":material/slideshow:"),
    ],
    "Pipeline": [
        st.Page("pages/pipeline.py", title="Pipeline by category", icon=":material/table_chart:"),
        st.Page("pages/coverage.py", title="Coverage", icon=":material/stacked_line_chart:"),
    ],
    "Diagnostics": [
        st.Page("pages/rates.py", title="Close & win rates", icon=":material/query_stats:"),
        st.Page("pages/funnel.py", title="Funnel & velocity", icon=":material/filter_alt:"),
        st.Page("pages/forecast_accuracy.py", title="Forecast accuracy",
                icon=":material/model_training:"),
    ],
    "Planning": [st.Page("pages/plan.py", title="Plan attainment", icon=":material/flag:")],
    "Data": [
        st.Page("pages/data_deals.py", title="Deal explorer", icon=":material/manage_search:"),
    ],
}
if me.may(MANAGE_DATA):  # the pages that change data, open it raw or describe all of it
    pages["Data"] += [
        st.Page("pages/database.py", title="Database", icon=":material/database:"),
        st.Page("pages/data_import.py", title="Import", icon=":material/upload_file:"),
        st.Page("pages/data_sync.py", title="CRM sync", icon=":material/sync:"),
        st.Page("pages/data_delivery.py", title="Delivery", icon=":material/outgoing_mail:"),
        st.Page("pages/data_settings.py", title="Maps, targets & settings",
                icon=":material/tune:"),
        st.Page("pages/data_sql.py", title="SQL", icon=":material/terminal:"),
        st.Page("pages/data_access.py", title="Access", icon=":material/shield_person:"),
        st.Page("pages/data_audit.py", title="Audit", icon=":material/history:"),
    ]
navigation = st.navigation(pages)
sidebar.render(me)
navigation.run()
