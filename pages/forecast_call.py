"""Forecast call: the weekly call, top to bottom — forecast then and now, new & expansion against
renewals, what closed, how each category moved, the key deals, the pipeline generated, the lead
pipeline, and the follow-ups carried from call to call."""

from dataclasses import replace
from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.access import SAVE_CALLS
from sales.callexport import call_summary_frame
from sales.callprep import (
    KEY_DEALS_MAX,
    NEW_AND_EXPANSION,
    RENEWALS,
    Forecast,
    changes_since,
    forecast_at_last_call,
)
from sales.export import XLSX_MIME, csv_bytes, xlsx_bytes
from sales.followups import FollowUpError, add_follow_up, close_follow_up
from sales.inblood import totals
from sales.lead_statuses import LEAD_GROUPS
from sales.movement import (
    DOWN,
    PART_HELP,
    PART_LABELS,
    PARTS,
    UP,
    waterfall_frame,
    zoomed_axis,
)
from sales.stages import OPEN_CATEGORIES
from sales.team_view import change as change_of
from sales.team_view import viewer_for_tiles
from ui import auth, page, state, widgets
from ui.data import (
    ahead,
    board_summary,
    call_prep,
    closed_follow_ups,
    default_last_call,
    filter_options,
    follow_up_counts,
    follow_ups_export,
    hierarchy_at,
    last_call_choices,
    lead_review,
    open_follow_ups,
    people_rollup,
    pipeline_generated,
    projection,
    saved_call_on,
)

KEY_DEALS_DEFAULT = 10
# Headers for the columns this page's deal lists add to the usual ones.
LABELS = {"opportunity_id": "Opportunity", "account_name": "Account", "name": "Name",
          "owner": "Owner", "segment": "Segment", "type": "Type", "outcome": "Outcome",
          "stage": "Stage", "close_date": "Close date", "category_then": "At last call",
          "category_now": "Category now", "stage_then": "Stage at last call",
          "stage_now": "Stage now", "close_then": "Close at last call", "close_now": "Close now",
          "loss_class": "Loss class", "competitor": "Competitor", "lost_reason": "Lost reason",
          "renewal_risk": "Renewal risk", "category": "Category", "next_step": "Next step"}
# Waterfall colours: inflows, outflows, and the two level bars.
BAR_COLOURS = {UP: "#1b9e77", DOWN: "#d95f02"}
LEVEL_COLOUR = "#2c7fb8"


def _deals(count: int) -> str:
    return f"{count:,} deal" + ("" if count == 1 else "s")


def _days(value: float | None) -> int | None:
    return None if value is None else round(value)


view = page.start("Forecast call")
settings = state.settings(state.database_path(), state.version())

# --- The last call: any earlier snapshot, by default the latest a week or more before as-of.
choices = [d.isoformat() for d in last_call_choices(view.as_of)]
if not choices:
    st.info("There is no snapshot before this one to compare with. Every import of a full "
            "export records a snapshot: import again next week (or build the demo) and this "
            "page shows what moved since.")
    st.stop()
default = default_last_call(view.as_of)
if st.session_state.get("last_call") not in choices:
    st.session_state.pop("last_call", None)
last_call_text = st.selectbox(
    "Last call", choices, key="last_call", bind="query-params",
    index=choices.index(default.isoformat()) if default and default.isoformat() in choices else 0,
    format_func=lambda text: f"{date.fromisoformat(text):%a %d %b %Y}",
    help="The snapshot the call compares with: by default the latest a week or more before "
         "as-of; any earlier snapshot can be picked.")
last_call = date.fromisoformat(last_call_text)
viewer = auth.identity()
# Whose call and team roll-up the tiles show (None: no tiles).
mine = viewer_for_tiles(hierarchy_at(view.as_of), viewer.who if viewer else None,
                        bool(viewer and viewer.team_mode))


def _people_rollups() -> None:
    if mine is not None:
        people_rollup(view, settings)
        people_rollup(replace(view, as_of=last_call), settings)


# The projection's draws, the lead pipeline, the pipeline generated, the in-blood board, the
# people's roll-ups and the follow-ups overlap the call's own preparation (ui.data.ahead says
# what that saved).
ahead(lambda: projection(view, last_call), lambda: lead_review(view, last_call),
      lambda: (pipeline_generated(view, last_call), board_summary(view, settings),
               _people_rollups(), follow_up_counts(view, last_call), open_follow_ups(view),
               closed_follow_ups(view, last_call)))
prep = call_prep(view, last_call)
since_label = f"since {last_call:%d %b}"

# --- 1. Forecast and upside now vs last call; closed won to date vs target.
st.subheader("Forecast now and at the last call")
board = board_summary(view, settings)
now = totals(board, {})
then = forecast_at_last_call(prep, saved_call_on(view, last_call), settings)
change = changes_since(prep, then, Forecast(now.number, now.upside, board.source))
target = prep.target
tiles = st.columns(4)
tiles[0].metric("In-blood number", fmt.money(now.number), border=True,
                delta=fmt.money(change["in_blood"]), delta_description=since_label,
                help=f"Now: closed won plus the included deals. At the last call "
                     f"({then.source}): {fmt.money(then.number)}.")
tiles[1].metric("Upside", fmt.money(now.upside), border=True,
                delta=fmt.money(change["upside"]), delta_description=since_label,
                delta_color="off",
                help=f"Commit and Best Case left out of the in-blood number. At the last call: "
                     f"{fmt.money(then.upside)}.")
closed_now = prep.closed_won_now
tiles[2].metric("Closed won to date", fmt.money(closed_now.amount), border=True,
                delta=fmt.money(change["closed_won"]),
                delta_description=since_label,
                help=f"{closed_now.count:,} deals won with a close date in {view.period.label}.")
tiles[3].metric("Target", fmt.money(target), border=True,
                delta=f"{fmt.pct(prep.closed_share)} closed" if target else
                prep.target_reason, delta_color="off", delta_arrow="off")
st.caption(f"In-blood at the last call ({last_call:%d %b %Y}) from {then.source}; now from "
           f"{board.source}. Settle it deal by deal on the In-blood call page.")
projected = projection(view, last_call)
if projected["eligible"]:
    earlier = projected["at_last_call"]
    tiles = st.columns(2)
    tiles[0].metric(
        "Projection (P50)", fmt.money(projected["p50"]), border=True,
        delta=fmt.money(projected["p50"] - earlier["p50"]) if earlier["p50"] is not None
        else None, delta_description=since_label,
        help=f"P10–P90 now {fmt.money(projected['p10'])} – {fmt.money(projected['p90'])}; at "
             f"the last call {fmt.money(earlier['p10'])} – {fmt.money(earlier['p90'])} (the "
             "same model scoring the deals as they stood then).")
    tiles[1].metric(
        "Chance of making the target", fmt.pct(projected["prob_target"]), border=True,
        delta="at the last call: its deals are being scored" if earlier["p50"] is None
        else f"{fmt.pct(earlier['prob_target'])} at the last call"
        if earlier["prob_target"] is not None else "no target for this view",
        delta_color="off", delta_arrow="off")
else:
    st.caption(f"Projection: {projected['reason']}.")
if projected["refreshing"]:
    st.caption("Projection: from the previous scores, while the deals are being scored again.")


def people_tiles() -> None:
    """The viewer's own call and their team's roll-up, now and at the last call."""
    if mine is None:
        return
    now_row = people_rollup(view, settings).get(mine)
    then_row = people_rollup(replace(view, as_of=last_call), settings).get(mine)
    if now_row is None:
        return
    then_call = then_row.forecast if then_row else None
    then_team = then_row.team_forecast if then_row else None
    left, right, _, _ = st.columns(4)
    moved = change_of(now_row.forecast, then_call)
    left.metric(f"{fmt.text(mine)}'s call", fmt.money(now_row.forecast), border=True,
                delta=fmt.money(moved) if moved is not None else None,
                delta_description=since_label if moved is not None else None,
                help=f"At the last call: {fmt.money(then_call)}. "
                     + ("Stale: no call since the latest due moment." if now_row.stale else ""))
    if now_row.team_forecast is not None:
        team_moved = change_of(now_row.team_forecast, then_team)
        right.metric("Their team's roll-up", fmt.money(now_row.team_forecast), border=True,
                     delta=fmt.money(team_moved) if team_moved is not None else None,
                     delta_description=since_label if team_moved is not None else None,
                     help="The sum of the direct reports' numbers (each one's call, else their "
                          f"team's roll-up, else their Closed + Commit); at the last call "
                          f"{fmt.money(then_team)}. The Roll-up page has each person's.")


people_tiles()

# --- 2. New & Expansion vs Renewals, apart.
st.subheader("New & Expansion and Renewals")
split = prep.by_type
left, right = st.columns(2)
for column, group in ((left, NEW_AND_EXPANSION), (right, RENEWALS)):
    part = split[split["group"] == group][["category", "amount_then", "amount_now", "change",
                                           "count_now"]]
    with column:
        st.markdown(f"**{group}**")
        widgets.table(part, f"{group.lower().replace(' & ', '-')}-{view.period.label}.csv",
                      category="Category", amount_then=widgets.money_column("At last call"),
                      amount_now=widgets.money_column("Now"),
                      change=widgets.money_column("Change"), count_now="Deals now")
with right:
    risk = prep.renewal_risk_total
    st.caption(" · ".join(f"{level}: {fmt.money(m.amount)} in {_deals(m.count)}"
                          for level, m in risk.items()))
    if prep.renewal_risks.empty:
        st.caption("No open renewal in the period is flagged At Risk or Early Warning.")
    else:
        if prep.renewals_flagged > len(prep.renewal_risks):
            st.caption(f"The {len(prep.renewal_risks):,} riskiest and largest of "
                       f"{prep.renewals_flagged:,} flagged renewals.")
        widgets.table(prep.renewal_risks, f"renewals-at-risk-{view.period.label}.csv",
                      amount=widgets.money_column("Amount"),
                      **{c: label for c, label in LABELS.items() if c in prep.renewal_risks})

# --- 3. Closed since the last call.
st.subheader(f"Closed since the last call ({last_call:%d %b})")
won, lost = prep.won_since, prep.lost_since
tiles = st.columns(2)
tiles[0].metric("Won since last call", fmt.money(won.amount), border=True,
                delta=_deals(won.count), delta_color="off", delta_arrow="off")
tiles[1].metric("Lost since last call", fmt.money(lost.amount), border=True,
                delta=_deals(lost.count), delta_color="off", delta_arrow="off",
                help="Closed without a win: lost, unqualified or duplicate.")
if prep.closed_since.empty:
    st.caption("Nothing in this period closed between the two dates.")
else:
    widgets.table(prep.closed_since, f"closed-since-{last_call}.csv",
                  amount=widgets.money_column("Amount"),
                  **{c: label for c, label in LABELS.items() if c in prep.closed_since})

# --- 4. Forecast movement: a waterfall per category, the deals behind a bar.
_LABEL_TO_PART = {PART_LABELS[p]: p for p in PARTS}


@st.fragment
def movement_section() -> None:
    """Waterfall and the deals behind a bar: a category, a bar or a pick redraws only this."""
    st.subheader("Forecast movement")
    category = st.radio("Category", OPEN_CATEGORIES, horizontal=True, key="movement_category")
    moved = prep.movement[category]
    bars = waterfall_frame(moved)

    def _pick_bar() -> None:
        """A clicked bar chooses the deals listed below the chart."""
        points = st.session_state["movement_chart"].selection.points
        if points and points[0].get("x") in _LABEL_TO_PART:
            st.session_state["movement_part"] = _LABEL_TO_PART[points[0]["x"]]

    figure = go.Figure(go.Bar(
        x=bars.label, y=bars.amount.abs(), base=bars.base,
        marker_color=[BAR_COLOURS.get(d, LEVEL_COLOUR) for d in bars.direction],
        text=[fmt.money(a) if m != "relative" else ("+" if a > 0 else "") + fmt.money(a) if a else ""
              for a, m in zip(bars.amount, bars.measure, strict=True)],
        textposition="outside", cliponaxis=False,
        customdata=list(zip(bars.amount, bars["count"], strict=True)),
        hovertemplate="%{x}: %{customdata[0]:$,.0f} in %{customdata[1]} deals<extra></extra>"))
    # The bars that matter are the movements: the axis starts just below the lowest level when
    # starting at zero would flatten them (sales.movement.zoomed_axis).
    axis = zoomed_axis(bars)
    figure.update_layout(yaxis_tickprefix="$", height=400, margin=dict(t=30), showlegend=False,
                         yaxis_range=list(axis) if axis else None)
    st.plotly_chart(figure, width="stretch", key="movement_chart", on_select=_pick_bar,
                    selection_mode="points")
    parts_sum = moved.change  # start + the signed parts = end
    st.caption(("The axis starts above zero so the movements read. " if axis else "")
               + f"{category} at the last call {fmt.money(float(moved.start), precise=True)} "
               f"{'+' if parts_sum >= 0 else '−'} {fmt.money(abs(float(parts_sum)), precise=True)} "
               f"of movement = {fmt.money(float(moved.end), precise=True)} now "
               f"({moved.start_count:,} → {moved.end_count:,} deals). Outflows count at their amount "
               "at the last call, inflows at their amount now. Click a bar, or pick it, to list its "
               "deals.")

    moving = [p for p in PARTS if moved.counts[p]]
    if not moving:
        st.caption(f"No {category} deal in {view.period.label} moved between the two dates.")
    else:
        if st.session_state.get("movement_part") not in moving:
            st.session_state["movement_part"] = moving[0]
        chosen = st.selectbox("Deals behind", moving, key="movement_part",
                              format_func=lambda p: f"{PART_LABELS[p]} — {PART_HELP[p]}")
        deals = prep.bar_deals[(prep.bar_deals["category"] == category)
                               & (prep.bar_deals["part"] == chosen)].drop(columns=["category", "part"])
        count, amount = moved.counts[chosen], float(moved.parts[chosen])
        shown = (f"largest {len(deals):,} of {_deals(count)}" if count > len(deals) else _deals(count))
        st.caption(f"{PART_LABELS[chosen]}: {shown} · {fmt.money(amount, precise=True)} for "
                   f"the bar ({fmt.money(float(deals['movement'].sum()), precise=True)} shown)")
        widgets.table(deals, f"movement-{category}-{chosen}-{view.period.label}.csv",
                      movement=widgets.money_column("Movement"),
                      amount_then=widgets.money_column("Amount at last call"),
                      amount_now=widgets.money_column("Amount now"),
                      **{c: label for c, label in LABELS.items() if c in deals})


movement_section()

# --- 5. Key deals.
@st.fragment
def key_deals_section() -> None:
    """The largest open deals: how many to list redraws only this."""
    st.subheader("Key deals")
    top_n = st.number_input("Largest open deals in the period", min_value=1,
                            max_value=KEY_DEALS_MAX, value=KEY_DEALS_DEFAULT, step=5, key="key_deals_n")
    key_deals = prep.key_deals.head(int(top_n))
    if key_deals.empty:
        st.info(f"No open Commit, Best Case or Pipeline deal closes in {view.period.label} for this "
                "filter — widen the filter or pick another period.")
    else:
        highlight = "background-color: #fff3bf"
        flags = {"category": "category_changed", "amount": "amount_changed",
                 "close_date": "close_changed"}

        def _changed(row):
            new = bool(row["new_since_call"])
            return [highlight if new or (c in flags and bool(row[flags[c]])) else ""
                    for c in row.index]

        shown = key_deals.drop(columns=["category_then", "amount_then", "close_then"])
        widgets.table(shown, f"key-deals-{view.period.label}.csv", row_style=_changed,
                      column_order=["account_name", "owner", "category", "amount", "close_date",
                                    "change", "stage", "push_count", "days_in_stage", "next_step"],
                      account_name="Account", owner="Owner", category="Category", stage="Stage",
                      amount=widgets.money_column("Amount"), close_date="Close date",
                      push_count="Pushes", days_in_stage="Days in stage", next_step="Next step",
                      change="Changed since last call")
        st.caption("Highlighted: new since the last call, or a category, amount or close date that "
                   "changed since. Pushes = times the close date moved to a later quarter.")


key_deals_section()

# --- 6. Pipeline generated.
st.subheader("Pipeline generated")
generated = pipeline_generated(view, last_call)
tiles = st.columns(2)
tiles[0].metric(f"Since the last call ({generated.since_start:%d %b})",
                fmt.money(generated.since.amount), border=True,
                delta=_deals(generated.since.count), delta_color="off", delta_arrow="off")
tiles[1].metric(f"Quarter to date (from {generated.quarter_start:%d %b})",
                fmt.money(generated.quarter.amount), border=True,
                delta=_deals(generated.quarter.count), delta_color="off", delta_arrow="off",
                help="Deals that became qualified (sales accepted, or first seen in a qualified "
                     "stage), at their amount then.")


@st.fragment
def mqls_by(leads) -> None:
    """MQLs by source or segment against past periods: the choice redraws only this."""
    by = st.radio("MQLs by", ["Source", "Segment"], horizontal=True, key="mql_dimension")
    compared = leads.comparison[leads.comparison["dimension"] == by].drop(columns="dimension")
    past_labels = list(leads.past_totals)
    widgets.table(compared, f"mqls-by-{by.lower()}-{view.period.label}.csv",
                  value=by, this_period=f"{view.period.label} to date",
                  since_last_call="Since the last call",
                  past_average=st.column_config.NumberColumn("Average of the last four",
                                                             format="%.1f"),
                  **{label: f"{label} at this point" for label in past_labels})


# --- 7. Lead pipeline: MQLs, where they are now, the pipeline they generated, recycle and junk.
st.subheader("Lead pipeline")
leads = lead_review(view, last_call)
lead_summary = leads.summary
if not lead_summary.shown:
    st.info(fmt.text(lead_summary.note))
else:
    if lead_summary.note:
        st.caption(fmt.text(lead_summary.note))
    past_average, versus = leads.past_average, leads.vs_past_average
    tiles = st.columns(3)
    tiles[0].metric(f"MQLs in {view.period.label}", fmt.count(lead_summary.mql), border=True,
                    delta=(f"{versus:+,.0f} vs the average of the "
                           f"last {len(leads.past_totals)} at this point"
                           if past_average is not None else None),
                    delta_arrow="off" if past_average is None else "auto",
                    help="Leads whose MQL date is in the period, up to as-of. Compared with the "
                         "average of the last four periods at the same point: "
                         + ", ".join(f"{label} {count:,}" for label, count
                                     in leads.past_totals.items()) + ".")
    tiles[1].metric(f"MQLs since the last call ({lead_summary.since_after:%d %b})",
                    fmt.count(lead_summary.mql_since), border=True)
    generated_from = lead_summary.pipeline
    tiles[2].metric("Pipeline from this period's MQLs", fmt.money(generated_from.amount),
                    border=True, delta=_deals(generated_from.count), delta_color="off",
                    delta_arrow="off",
                    help="The period's MQLs converted to an opportunity that is qualified as of "
                         "as-of, at its amount then.")
    mqls_by(leads)

    st.markdown("**Where this period's MQLs are now**")
    funnel_steps = leads.funnel.frame()
    left, right = st.columns([3, 2])
    with left:
        figure = go.Figure(go.Funnel(y=funnel_steps["step"], x=funnel_steps["leads"],
                                     textinfo="value+percent initial"))
        figure.update_layout(height=300, margin=dict(t=10, b=10))
        st.plotly_chart(figure, width="stretch", key="lead_funnel")
    with right:
        shares = lead_summary.now_shares()
        now = [{"group": group.capitalize(), "leads": lead_summary.now.get(group, 0),
                "share": shares[group]} for group in LEAD_GROUPS]
        st.dataframe(now, hide_index=True, width="stretch",
                     column_config={"group": "Now", "leads": "MQLs",
                                    "share": widgets.percent_column("Share")})
    widgets.table(funnel_steps, f"mql-funnel-{view.period.label}.csv", step="Step",
                  leads="Leads", share_of_mqls=widgets.percent_column("Share of MQLs"),
                  share_of_previous=widgets.percent_column("Of the step before"),
                  median_days_from_previous=st.column_config.NumberColumn(
                      "Median days from the step before", format="%.0f"))
    funnel = leads.funnel
    st.caption(f"Median days MQL → accepted {fmt.count(_days(funnel.days_to_accept))}, "
               f"accepted → converted {fmt.count(_days(funnel.days_accepted_to_converted))}, "
               f"MQL → converted {fmt.count(_days(funnel.days_to_convert))}. Open = still being "
               "worked; qualified = converted to an opportunity; recycled = nurture; junk = "
               "unqualified or bad data; purchased = bought through the web portal.")
    with st.expander(f"The {_deals(generated_from.count)} generated from this period's MQLs"):
        if leads.deals.empty:
            st.caption("None of this period's MQLs has converted to a qualified opportunity yet.")
        else:
            widgets.table(leads.deals, f"pipeline-from-mqls-{view.period.label}.csv",
                          amount=widgets.money_column("Amount"), lead_id="Lead",
                          lead_source="Lead source", mql_date="MQL date",
                          converted_date="Converted",
                          **{c: label for c, label in LABELS.items() if c in leads.deals})
    st.markdown("**Reasons for recycle and junk**")
    if not lead_summary.reasons:
        st.caption("None of this period's MQLs has been recycled or junked.")
    else:
        reasons = list(lead_summary.reasons.items())
        figure = go.Figure(go.Bar(x=[count for _, count in reasons],
                                  y=[fmt.chart_text(reason) for reason, _ in reasons],
                                  orientation="h", marker_color="#d95f02"))
        figure.update_layout(height=max(160, 26 * len(reasons) + 40), margin=dict(t=10, b=10),
                             yaxis_autorange="reversed", xaxis_title="MQLs")
        st.plotly_chart(figure, width="stretch", key="lead_reasons")

# --- 8. Follow-ups: open items from earlier calls, new ones, what was closed since.
st.subheader("Follow-ups")
me = viewer
may_write = me is not None and me.may(SAVE_CALLS)
counts = follow_up_counts(view, last_call)
tiles = st.columns(3)
tiles[0].metric("Open follow-ups", fmt.count(counts.open), border=True)
tiles[1].metric("Overdue", fmt.count(counts.overdue), border=True,
                help=f"Open and due before {view.as_of:%d %b}.")
tiles[2].metric(f"Follow-ups closed since the last call ({last_call:%d %b})",
                fmt.count(counts.closed_since),
                border=True)
if message := st.session_state.pop("follow_up_message", None):
    st.success(message)


def _who() -> str:
    """Whom a follow-up write is attributed to: the signed-in email, or locally the name typed."""
    if me.team_mode:
        return me.who
    return (st.session_state.get("saved_by") or "").strip() or me.who


def _write(action, *args) -> bool:
    try:
        with state.writing() as cur:
            action(cur, view, *args, _who())
    except FollowUpError as error:
        st.error(f"Not saved: {fmt.text(error)}")
        return False
    return True


still_open = open_follow_ups(view)
if still_open.empty:
    st.caption("No follow-up is open for this view.")
for item in still_open.itertuples():
    with st.container(border=True):
        text_col, note_col, button_col = st.columns([5, 3, 1], vertical_alignment="center")
        flag = "**Overdue** · " if item.overdue else ""
        deal = (f" · deal {fmt.text(item.account_name or item.opportunity_id)}"
                if item.opportunity_id else "")
        raised = ("this call" if item.call_date == view.as_of
                  else f"the call of {item.call_date:%d %b}")
        text_col.markdown(f"{flag}{fmt.text(item.text)}  \n"
                          f":gray[{fmt.text(item.owner)} · due {item.due_date:%d %b %Y}{deal} · "
                          f"raised at {raised} by {fmt.text(item.created_by)}]")
        if may_write:
            note = note_col.text_input("Note", key=f"follow_up_note_{item.follow_up_id}",
                                       placeholder="Note (optional)",
                                       label_visibility="collapsed")
            if button_col.button("Close", key=f"follow_up_close_{item.follow_up_id}") and _write(
                    close_follow_up, int(item.follow_up_id), note):
                st.session_state["follow_up_message"] = "Follow-up closed."
                st.rerun()

if may_write:
    deal_names = {}
    for frame in (prep.key_deals, prep.renewal_risks, prep.closed_since):
        # Whole columns as lists: row by row, pandas reads Arrow-backed text one value a call.
        for deal_id, account in zip(frame["opportunity_id"].tolist(),
                                    frame["account_name"].tolist(), strict=True):
            deal_names.setdefault(deal_id, f"{account} ({deal_id})")
    owners = sorted({*filter_options("owner", view.scope), *filter_options("team", view.scope)})
    if not me.team_mode:
        st.text_input("Your name", key="saved_by",
                      help="Who raised and who closed each follow-up is kept with it (sign-in "
                           "fills it in when the app serves a team).")
    # A new form (fresh fields) after each saved item; a refused one keeps what was typed.
    form = st.session_state.setdefault("follow_up_form", 0)
    with st.form(f"new_follow_up_{form}", border=True):
        st.markdown("**New follow-up**")
        text = st.text_input("What is to be done", key=f"follow_up_text_{form}", max_chars=500)
        left, middle, right = st.columns(3)
        owner = left.selectbox("Owner", owners, index=None, accept_new_options=True,
                               key=f"follow_up_owner_{form}", placeholder="Pick or type a name")
        due = middle.date_input("Due", value=view.as_of + timedelta(days=7),
                                key=f"follow_up_due_{form}")
        deal = right.selectbox("Deal (optional)", list(deal_names), index=None,
                               format_func=lambda i: deal_names.get(i, i),
                               accept_new_options=True, key=f"follow_up_deal_{form}",
                               placeholder="A deal on this call, or an opportunity id")
        saved = st.form_submit_button("Save follow-up", type="primary")
    if saved and _write(add_follow_up, text, owner or "", due, deal):
        st.session_state["follow_up_form"] = form + 1
        st.session_state["follow_up_message"] = (
            f"Follow-up saved with the call of {view.as_of:%d %b %Y}.")
        st.rerun()
else:
    st.caption("Viewers follow the call; managers and analysts add and close follow-ups.")

closed = closed_follow_ups(view, last_call)
if not closed.empty:
    st.markdown(f"**Closed since the last call ({last_call:%d %b})**")
    widgets.table(closed[["text", "owner", "due_date", "account_name", "call_date", "created_by",
                          "closed_call_date", "closed_by", "close_note"]],
                  f"follow-ups-closed-since-{last_call}.csv", text="Follow-up", owner="Owner",
                  due_date="Due", account_name="Deal", call_date="Raised at the call of",
                  created_by="Raised by", closed_call_date="Closed at the call of",
                  closed_by="Closed by", close_note="Note")

# --- Export: the call as it stands, with its lead pipeline and follow-ups.
st.subheader("Export the call")
left, right = st.columns(2)
# The files are built on a click (the callables), not on every render.
left.download_button("Follow-ups as CSV", lambda: csv_bytes(follow_ups_export(view, last_call)),
                     file_name=f"follow-ups-{view.as_of}.csv", mime="text/csv",
                     key="follow_ups_csv")
right.download_button(
    "The call as XLSX",
    lambda: xlsx_bytes({"Call": call_summary_frame(view, last_call, now, then, change, prep,
                                                   lead_summary, counts),
                        "Lead pipeline": leads.comparison,
                        "Follow-ups": follow_ups_export(view, last_call)}),
    file_name=f"forecast-call-{view.as_of}.xlsx", mime=XLSX_MIME, key="call_xlsx")
