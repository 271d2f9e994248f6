"""Access: who may sign in, with which role and within which teams, regions and owners; and
the sales hierarchy (who reports to whom) that scopes managers and reps."""

from datetime import date

import streamlit as st

from sales import access
from sales import formatting as fmt
from sales.access import MANAGE_DATA, ROLES, AccessError
from sales.hierarchy import HierarchyError, User, replace_hierarchy
from sales.hierarchy import hierarchy_at as hierarchy_in
from sales.team_view import hierarchy_frame, with_user, without_user
from ui import auth, page, state, widgets
from ui.data import access_grants, filter_options, hierarchy_at

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
    except (AccessError, HierarchyError) as error:
        st.error(f"Nothing changed: {fmt.text(error)}")
        return
    st.session_state["access_message"] = done
    st.rerun()


st.subheader("Grant or change")
with st.form("grant_access", border=True):
    email = st.text_input("Email", placeholder="name@example.com")
    role = st.radio("Role", ROLES, horizontal=True, format_func=str.capitalize,
                    captions=[ROLE_HELP.get(r, "") for r in ROLES])
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

# --- The sales hierarchy: who reports to whom, from a day on.
st.subheader("Sales hierarchy")
today = date.today()
tree = hierarchy_at(today)
if not tree.users:
    st.caption("No hierarchy yet. Import one from a terminal with `python -m sales import "
               "people.csv --kind hierarchy` (columns `user,email,manager[,title]`), or add "
               "people one by one below, the top first.")
else:
    widgets.table(hierarchy_frame(tree), "hierarchy.csv", user="Person", email="Email",
                  manager="Manager", title="Title", directs="Reports")
st.caption("A person is named as the deals' owner field spells them. A change takes effect on "
           "the day given: the roll-up of earlier days keeps the old manager. Managers and reps "
           "sign in with the email given here; grant them the `manager` or `rep` role above.")
names = tree.order()
with st.form("hierarchy_person", border=True):
    st.markdown("**Add or change a person**")
    left, middle = st.columns(2)
    name = left.selectbox("Person", names, index=None, accept_new_options=True,
                          placeholder="Pick someone, or type a new name")
    manager = middle.selectbox("Manager", names, index=None,
                               placeholder="None: the top of the hierarchy")
    left, middle, right = st.columns(3)
    email = left.text_input("Email", placeholder="Unchanged when left empty")
    title = middle.text_input("Title", placeholder="Unchanged when left empty")
    effective = right.date_input("From", value=today)
    if st.form_submit_button("Save person", type="primary"):
        known = tree.users.get(name or "")
        person = User((name or "").strip(), email.strip() or (known.email if known else ""),
                      manager, title.strip() or (known.title if known else None))
        _write(lambda cur: replace_hierarchy(cur, with_user(hierarchy_in(cur, effective), person),
                                             effective, auth.who()),
               f"{fmt.text(person.name)} saved in the hierarchy from {effective:%d %b %Y}.")
if names:
    left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    leaving = left.selectbox("Remove from the hierarchy", names, key="hierarchy_remove",
                             help="Move their reports to another manager first.")
    leaving_from = middle.date_input("From", value=today, key="hierarchy_remove_from")
    if right.button("Remove", key="hierarchy_remove_button", width="stretch"):
        _write(lambda cur: replace_hierarchy(cur, without_user(
                   hierarchy_in(cur, leaving_from), leaving),
                                             leaving_from, auth.who()),
               f"{fmt.text(leaving)} leaves the hierarchy from {leaving_from:%d %b %Y}.")
