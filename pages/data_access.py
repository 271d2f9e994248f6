"""Access: who may sign in, with which role and within which teams, regions and owners."""

import streamlit as st

from sales import access
from sales import formatting as fmt
from sales.access import MANAGE_DATA, ROLES, AccessError
from ui import auth, page, state, widgets
from ui.data import access_grants, filter_options

ROLE_HELP = {
    access.VIEWER: "leadership: every Forecast, Pipeline, Diagnostics and Planning page, the "
                   "deal explorer and exports; changes nothing",
    access.REP: "their own deals and calls, and submits their own forecast call",
    access.MANAGER: "their team (from the hierarchy, or a scope given here): saves in-blood "
                    "calls and submits their own and their team's forecast calls",
    access.ANALYST: "everything: imports, maps, targets, settings, SQL, access and the audit",
}

page.start("Access", needs_data=False, permission=MANAGE_DATA)
if state.database_is_empty():  # analysts can still be granted; scopes need data to name
    widgets.empty_database()
me = auth.identity()
if me is not None and not me.team_mode:
    st.info("Local mode: nobody signs in and you are an analyst. Grants made here take effect "
            "once the app serves a team (the README's \"Serve a team\" section).")

if message := st.session_state.pop("access_message", None):
    st.success(message)

grants = access_grants()
if grants.empty:
    st.caption("No one has access yet. Grant the first analyst here or from a terminal: "
               "`python -m sales access grant you@example.com --role analyst`.")
else:
    widgets.table(grants, "access.csv", email="Email", role="Role", teams="Teams",
                  regions="Regions", owners="Owners", granted_by="Granted by",
                  granted_at=st.column_config.DatetimeColumn("Granted", format="D MMM YYYY HH:mm"))


def _write(change, done: str) -> None:
    try:
        with state.writing() as cur:
            change(cur)
    except AccessError as error:
        st.error(f"Nothing changed: {fmt.text(error)}")
        return
    st.session_state["access_message"] = done
    st.rerun()


st.subheader("Grant or change")
with st.form("grant_access", border=True):
    email = st.text_input("Email", placeholder="name@example.com")
    role = st.radio("Role", ROLES, horizontal=True, format_func=str.capitalize,
                    captions=[ROLE_HELP[r] for r in ROLES])
    left, middle, right = st.columns(3)
    teams = left.multiselect("Teams", filter_options("team"))
    regions = middle.multiselect("Regions", filter_options("region"))
    owners = right.multiselect("Owners", filter_options("owner"))
    st.caption("Leave the scope empty for the whole company. A deal is in a scope when it is in "
               "one of its teams, one of its regions and one of its owners.")
    if st.form_submit_button("Grant", type="primary"):
        _write(lambda cur: access.grant(cur, email, role, tuple(teams), tuple(regions),
                                        tuple(owners), by=auth.who()),
               f"Access for {fmt.text(email.strip().lower())} saved.")

if not grants.empty:
    st.subheader("Revoke")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    gone = left.selectbox("Email", grants["email"], key="revoke_email")
    if right.button("Revoke", key="revoke", width="stretch"):
        _write(lambda cur: access.revoke(cur, gone, by=auth.who()),
               f"Access for {fmt.text(gone)} revoked.")
