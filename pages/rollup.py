"""Roll-up: every person's call beside what their pipeline says, rolled up through the
hierarchy — a manager's own call beside the sum of their team's, the adjustment between them,
and the number without adjustments."""

import plotly.graph_objects as go
import streamlit as st

from sales import access
from sales import formatting as fmt
from sales.export import XLSX_MIME, csv_bytes, xlsx_bytes
from sales.people_calls import CallError, submit_call
from sales.stages import BEST_CASE, CLOSED, COMMIT, PIPELINE, TOTAL_CATEGORIES
from sales.team_view import ROLLUP_COLUMNS, call_targets, home_of, rollup_frame, without_adjustment
from ui import auth, page, state, widgets
from ui.data import calls_over_period, cell_deals, hierarchy_at, people_rollup

# Roles whose numbers are their own part of the hierarchy: without a place in it, nothing shows.
SCOPED_ROLES = (access.MANAGER, access.REP)
SOURCE_LABELS = {"call": "their call", "roll-up": "their team's calls", "crm": "the CRM"}
# The CRM categories drawn under a person's calls, each in its usual colour.
CHART_CATEGORIES = {"closed": CLOSED, "commit": COMMIT, "best_case": BEST_CASE,
                    "pipeline": PIPELINE}
COLUMNS = dict(
    user="Person", title="Title", forecast=widgets.money_column("Call"),
    upside=widgets.money_column("Upside"),
    submitted_at=st.column_config.DatetimeColumn("Submitted", format="D MMM HH:mm"),
    change_since_week=widgets.money_column("Change on a week"),
    stale=st.column_config.CheckboxColumn("Stale"),
    effective_forecast=widgets.money_column("Their number"), source="From",
    team_forecast=widgets.money_column("Team's calls"),
    adjustment=widgets.money_column("Adjustment"),
    without_adjustment=widgets.money_column("Without adjustments"),
    closed=widgets.money_column("Closed"), commit=widgets.money_column("Commit"),
    best_case=widgets.money_column("Best Case"), pipeline=widgets.money_column("Pipeline"),
    in_blood=widgets.money_column("In-blood (default rules)"), directs="Reports")

view = page.start("Roll-up", caption="calls are per person; the CRM amounts follow the filters")
settings = state.settings(state.database_path(), state.version())
me = auth.identity()
tree = hierarchy_at(view.as_of)
if not tree.users:
    st.info("**No sales hierarchy yet.** The roll-up needs who reports to whom: import it from "
            "a terminal with `python -m sales import people.csv --kind hierarchy` (columns "
            "`user,email,manager[,title]`, user spelt as the deals' owner), or add people on "
            "the **Data › Access** page.")
    st.stop()
# Signed in, the page starts from the viewer's place in the hierarchy; locally, from the top.
home = home_of(tree, me.who) if me.team_mode else None
if me.team_mode and home is None and me.grant.role in SCOPED_ROLES:
    st.info(f"{fmt.text(me.who)} is not in the sales hierarchy yet: ask an analyst to add you "
            "on the Data › Access page.")
    st.stop()
people = people_rollup(view, settings)

# --- Whose team: the viewer's own (or the top), re-rooted by a drill below.
within = tree.subtree(home) if home else [n for top in tree.tops() for n in tree.subtree(top)]
if st.session_state.get("rollup_root") not in within:
    st.session_state["rollup_root"] = home or within[0]
root = st.selectbox(
    "Team of", within, key="rollup_root",
    format_func=lambda n: f"{n} — {tree.users[n].title}" if tree.users[n].title else n,
    help="Pick anyone in your part of the hierarchy, or click a row below to drill in.")
person = people[root]
chain = [n for n in reversed(tree.chain(root)) if n in within]
if chain:
    st.caption("Reports to " + " › ".join(fmt.text(n) for n in chain))

# --- The root's own call beside the team's.
tiles = st.columns(5)
tiles[0].metric(
    "Call", fmt.money(person.forecast), border=True,
    delta=fmt.money(person.change_since_week) if person.change_since_week is not None else None,
    delta_description="on a week" if person.change_since_week is not None else None,
    help=(f"Submitted {person.submitted_at:%d %b %Y %H:%M}; upside {fmt.money(person.upside)}."
          if person.submitted_at else "No call for this period yet."))
tiles[1].metric("Team's calls", fmt.money(person.team_forecast), border=True,
                help="The sum of the direct reports' numbers: each one's call, else their "
                     "team's roll-up, else their Closed + Commit.")
tiles[2].metric("Adjustment", fmt.money(person.adjustment), border=True,
                help="Their call − (the team's calls + Closed and Commit of the deals they own "
                     "themselves); none without a call or a team.")
tiles[3].metric("Without adjustments", fmt.money(without_adjustment(person)), border=True,
                help="The team's calls + Closed and Commit of their own deals: the number "
                     "before this person's adjustment.")
tiles[4].metric("Their pipeline says", fmt.money(person.in_blood), border=True,
                help=f"In-blood under the default rules over their part of the hierarchy: "
                     f"Closed {fmt.money(person.closed)} + Commit {fmt.money(person.commit)}; "
                     f"Best Case {fmt.money(person.best_case)}, Pipeline "
                     f"{fmt.money(person.pipeline)}.")
if person.stale:
    st.warning(f"{fmt.text(root)}'s call is stale: none since the latest due moment "
               f"({settings.call_due_weekday} {settings.call_due_time}).")
st.caption(f"Their number: {fmt.money(person.effective_forecast)} from "
           f"{SOURCE_LABELS.get(person.source, person.source)}.")

# --- A row per direct report: their word beside their pipeline; a person's calls over time.
rows = rollup_frame(people, tree.directs(root))
drilled = None


def _drill(key: str) -> None:
    """A clicked manager re-roots the page on their team (before the picker is drawn)."""
    chosen = st.session_state[key].selection.rows
    if chosen and tree.directs(rows.iloc[chosen[0]]["user"]):
        st.session_state["rollup_root"] = rows.iloc[chosen[0]]["user"]


def team_table() -> str | None:
    """The direct reports' rows; returns the one clicked, if any."""
    if rows.empty:
        st.caption(f"{fmt.text(root)} has no direct reports: their deals are below.")
        return None
    # One selection per root: a re-rooted table starts with nothing picked.
    key = f"rollup_rows|{root}"
    picked = st.dataframe(
        rows, hide_index=True, width="stretch", key=key, on_select=lambda: _drill(key),
        selection_mode="single-row", column_config=COLUMNS,
        column_order=[c for c in ROLLUP_COLUMNS if c != "title"])
    st.caption("Click a row to drill in: a manager's team re-roots the page on them; a rep's "
               "deals are listed below. Stale: no call since the latest due moment.")
    left, right = st.columns(2)
    name = f"rollup-{root}-{view.period.label}"
    left.download_button("Download CSV", lambda: csv_bytes(rows), file_name=f"{name}.csv",
                         mime="text/csv", key="rollup_csv")
    right.download_button("Download XLSX", lambda: xlsx_bytes({"Roll-up": rows}),
                          file_name=f"{name}.xlsx", mime=XLSX_MIME, key="rollup_xlsx")
    chosen = picked.selection.rows if picked else []
    drilled = rows.iloc[chosen[0]]["user"] if chosen else None
    return drilled


def calls_chart() -> None:
    """A person's calls across the period against their part of the CRM (read from the
    history: drawn only when its tab is open)."""
    shown_people = [root, *tree.directs(root)]
    if st.session_state.get("rollup_person") not in shown_people:
        st.session_state["rollup_person"] = drilled or root
    who = st.selectbox("Person", shown_people, key="rollup_person")
    history = calls_over_period(view, who)
    figure = go.Figure()
    for column, category in CHART_CATEGORIES.items():
        if column in history and history[column].notna().any():
            figure.add_scatter(x=history["date"], y=history[column], name=category,
                               mode="lines", stackgroup="crm", line_width=0,
                               fillcolor=widgets.CATEGORY_COLOURS[category])
    calls = history.dropna(subset=["forecast"]) if "forecast" in history else history.iloc[0:0]
    figure.add_scatter(x=calls["date"], y=calls["forecast"], name="Call", mode="lines+markers",
                       line_color="black", line_shape="hv")
    figure.add_scatter(x=calls["date"], y=calls["forecast"] + calls["upside"],
                       name="Call + upside", mode="lines+markers", line_color="black",
                       line_dash="dot", line_shape="hv")
    figure.update_layout(yaxis_tickprefix="$", height=360, margin=dict(t=10),
                         legend_orientation="h")
    st.plotly_chart(figure, width="stretch", key="rollup_chart")
    if calls.empty:
        st.caption(f"{fmt.text(who)} has no call in {view.period.label} yet: the areas are their "
                   "part of the CRM at each snapshot.")
    else:
        st.caption("Each call holds until the next (steps); the areas are their part of the CRM at "
                   "each snapshot — closed won, Commit, Best Case and Pipeline, stacked.")


table_tab, chart_tab = st.tabs(["Direct reports", "Calls across the period"], key="rollup_tabs",
                               on_change="rerun")  # only the open tab is computed
if table_tab.open:
    with table_tab:
        drilled = team_table()
if chart_tab.open:
    with chart_tab:
        calls_chart()

# --- A rep's deals: the one clicked, or the root's own when they have no team.
deals_of = root if rows.empty else drilled
if deals_of is not None:
    st.subheader(f"{deals_of}'s deals in {view.period.label}")
    deals, count, amount = cell_deals(view, TOTAL_CATEGORIES, "owner", deals_of)
    st.caption(f"{count:,} deals, {fmt.money(amount)}: Closed, Commit, Best Case and Pipeline "
               "closing in the period" + (" (the largest shown)" if count > len(deals) else ""))
    widgets.deal_table(deals, f"deals-{deals_of}-{view.period.label}.csv")

# --- Submit a call: one's own, and a manager's for a direct report.
st.subheader("Submit a call")
if message := st.session_state.pop("rollup_message", None):
    st.success(message)
may_submit = me.may(access.SUBMIT_CALL) and (home is not None or not me.team_mode)
if not may_submit:
    st.caption("Calls are submitted by the people in the hierarchy: a rep their own, a "
               "manager theirs and their direct reports'.")
    st.stop()
if me.team_mode:
    by = home
    st.caption(f"Submitting as {fmt.text(by)} (signed in).")
else:
    by = st.selectbox("You are", within, key="call_by",
                      help="Local mode has no sign-in: pick who is submitting.")
with st.form("submit_call", border=True):
    left, middle, right = st.columns(3)
    whose = left.selectbox("Call for", call_targets(tree, by), key="call_user",
                           help="Your own call, or a direct report's (recorded as by you).")
    forecast = middle.number_input("Forecast", min_value=0.0, step=1000.0, key="call_forecast",
                                   help="I will close at least this much in the period.")
    upside = right.number_input("Upside", min_value=0.0, step=1000.0, key="call_upside",
                                help="There is a chance of this much more.")
    note = st.text_input("Note", max_chars=500, key="call_note")
    sent = st.form_submit_button("Submit call", type="primary")
if sent:
    try:
        with state.writing() as cur:
            made = submit_call(cur, whose, view.period.label, forecast, upside, note,
                               by=by)
    except CallError as error:
        st.error(f"Not submitted, nothing changed: {fmt.text(error)}")
    else:
        later = (f" It counts from {made.submitted_at:%d %b %Y} on: this view is as of "
                 f"{view.as_of:%d %b %Y}." if made.submitted_at.date() > view.as_of else "")
        st.session_state["rollup_message"] = (
            f"Call of {fmt.money(made.forecast, precise=True)} submitted for "
            f"{made.user} in {made.period}" + (f" by {made.submitted_by}"
                                               if made.submitted_by != made.user else "")
            + "." + later)
        st.rerun()
