"""Audit: every write — imports, map, target and setting edits, saved calls, access changes —
who made it, when and what it did."""

import streamlit as st

from sales.access import MANAGE_DATA
from sales.audit import ACTIONS
from ui import page, state, widgets
from ui.data import audit_trail

page.start("Audit", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():  # the trail of a file without deals can still say why
    widgets.empty_database()
left, right = st.columns([1, 2])
action = left.selectbox("What", ["(all)", *ACTIONS], key="audit_action")
who = right.text_input("Who (part of a name or email)", key="audit_who")
trail = audit_trail(None if action == "(all)" else action, who)
if trail.empty:
    st.info("Nothing recorded for this choice yet.")
else:
    st.caption(f"{len(trail):,} writes, newest first. Imports, restarts and new versions keep "
               "the trail: it lives in the database file.")
    widgets.table(trail, "audit.csv", happened_at=st.column_config.DatetimeColumn(
                      "When", format="D MMM YYYY HH:mm:ss"),
                  who="Who", action="What", summary="Summary")
