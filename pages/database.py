"""Database: what is loaded, the reference maps and the settings in force."""

import streamlit as st

from sales import formatting as fmt
from sales.access import MANAGE_DATA
from ui import page, state, widgets
from ui.data import loss_reason_frame, settings_frame, stage_map_frame, summary, unmapped_reasons

page.start("Database", needs_data=False, permission=MANAGE_DATA)
info = summary()
st.caption(f"File `{state.database_path()}` · schema version {info['schema_version']} · "
           f"data version {info['data_version']}")
if info["opportunities"] == 0:
    widgets.empty_database()

tiles = st.columns(4)
tiles[0].metric("Opportunities", fmt.count(info["opportunities"]), border=True,
                help=f"{fmt.count(info['accounts'])} accounts, {fmt.count(info['owners'])} owners")
tiles[1].metric("Snapshots", fmt.count(info["snapshots"]), border=True,
                help=f"{fmt.count(info['history_rows'])} history rows (changes only)")
tiles[2].metric("First snapshot", str(info["first_snapshot"] or "—"), border=True)
tiles[3].metric("Latest snapshot", str(info["last_snapshot"] or "—"), border=True)
st.caption(f"Close dates {info['first_close_date'] or '—'} to {info['last_close_date'] or '—'} · "
           f"{fmt.count(info['targets'])} targets · {fmt.count(info['forecast_calls'])} saved "
           f"calls · {fmt.count(info['submissions'])} submissions · {fmt.count(info['leads'])} "
           f"leads in {fmt.count(info['lead_snapshots'])} lead snapshots · "
           f"{fmt.count(info['follow_ups'])} follow-ups")

stages, losses, settings = st.tabs(["Stage map", "Loss reasons", "Settings"])
with stages:
    st.caption("How each CRM stage maps to a forecast category. An open deal in a stage that "
               "is not qualified is reported as Unqualified, whatever its category.")
    widgets.table(stage_map_frame(), "stage_map.csv")
with losses:
    st.caption("Lost reason → loss class. A lost deal naming a competitor is competition; an "
               "unmapped reason counts as no decision.")
    widgets.table(loss_reason_frame(), "loss_reason_map.csv")
    unmapped = unmapped_reasons()
    if unmapped:
        st.warning("Lost reasons without a mapping (counted as no decision): "
                   + ", ".join(f"{fmt.text(reason)} ({n:,})" for reason, n in unmapped))
with settings:
    widgets.table(settings_frame(), "settings.csv")
