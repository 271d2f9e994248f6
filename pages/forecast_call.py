"""Forecast call: the weekly call, top to bottom — forecast then and now, new & expansion against
renewals, what closed, how each category moved, the key deals, the pipeline generated."""

from datetime import date

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.callprep import (
    KEY_DEALS_MAX,
    NEW_AND_EXPANSION,
    RENEWALS,
    Forecast,
    changes_since,
    forecast_at_last_call,
)
from sales.inblood import totals
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
from ui import page, state, widgets
from ui.data import (
    board_summary,
    call_prep,
    default_last_call,
    last_call_choices,
    pipeline_generated,
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
st.subheader("Forecast movement")
category = st.radio("Category", OPEN_CATEGORIES, horizontal=True, key="movement_category")
moved = prep.movement[category]
bars = waterfall_frame(moved)
_LABEL_TO_PART = {PART_LABELS[p]: p for p in PARTS}


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

# --- 5. Key deals.
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
