"""Close and win rates: the trend by quarter, the split by any dimension, and what they mean
for each rep's capacity."""

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.capacity import Capacity
from sales.periods import QUARTER, completed_quarters_before, period_containing
from sales.query import GROUP_COLUMNS
from sales.rates import default_window, required_coverage, slips_in, with_slips
from ui import data, page, state, widgets

TREND_QUARTERS = 8

window_start, window_end = default_window(state.current_view().period)
view = page.start("Close & win rates", caption=f"rates window {window_start} to {window_end}")
report = data.headline(view)
settings = state.settings(state.database_path(), state.version())
rates = report["rates"]

close_rate, win_rate = rates["close_rate"], rates["win_rate"]
close_floor, win_floor = float(settings["close_rate_floor"]), float(settings["win_rate_floor"])
tiles = st.columns(4)
tiles[0].metric("Close rate (deals)", fmt.pct(close_rate["count"]), border=True,
                delta=f"floor {fmt.pct(close_floor)}", delta_color="off", delta_arrow="off",
                help="Won / (won + lost to competition + lost to no decision), qualified deals "
                     "closed in the window.")
tiles[1].metric("Close rate (amount)", fmt.pct(close_rate["amount"]), border=True)
tiles[2].metric("Win rate (deals)", fmt.pct(win_rate["count"]), border=True,
                delta=f"floor {fmt.pct(win_floor)}, aim {fmt.pct(float(settings['win_rate_aim']))}",
                delta_color="off", delta_arrow="off",
                help="Won / (won + lost to competition).")
required = required_coverage(close_rate["count"])
tiles[3].metric("Coverage this close rate needs", fmt.multiple(required), border=True,
                help="1 / close rate: a 33% close rate needs 3× pipeline, 25% needs 4×.")

# Slips count against the close rate too (SPEC item 6): a deal pushed out of its quarter was
# not closed there, and coverage that counted on it was short.
current = period_containing(view.as_of, QUARTER, view.period.fy_start_month)
quarters = current.previous(TREND_QUARTERS - 1) + [current]
window_quarters = completed_quarters_before(view.period, 4)
# One read of the slips serves the tiles (the window's quarters) and the trend below.
slips = data.fetch("slipped_by_period", sorted({*quarters, *window_quarters},
                                                key=lambda q: q.start),
                   view.as_of, view.filters)
slipped = slips_in(slips, window_quarters)
outcomes = data.fetch("outcomes", window_start, window_end, view.as_of, view.filters)
adjusted_amount, adjusted = outcomes.slippage_adjusted_close_rate(slipped)
tiles = st.columns(4)
tiles[0].metric("Close rate, slippage-adjusted (deals)", fmt.pct(adjusted), border=True,
                delta=f"{fmt.count(slipped.count)} slips in the window", delta_color="off",
                delta_arrow="off",
                help="Won / (won + lost to competition + lost to no decision + slipped): a deal "
                     "open and due in a quarter that was still open with a later close date at "
                     "the quarter's end slipped out of it (once per quarter it slips from).")
tiles[1].metric("Close rate, slippage-adjusted (amount)", fmt.pct(adjusted_amount), border=True,
                delta=f"{fmt.money(slipped.amount)} slipped", delta_color="off",
                delta_arrow="off")
tiles[2].metric("Coverage the adjusted rate needs", fmt.multiple(required_coverage(adjusted)),
                border=True, help="1 / slippage-adjusted close rate.")

st.subheader("Trend by quarter")
trend = with_slips(data.fetch("rates_by_period", quarters, view.as_of, view.filters), slips)
figure = go.Figure()
for column, name in (("close_rate_count", "Close rate"), ("win_rate_count", "Win rate"),
                     ("adjusted_rate_count", "Close rate, slippage-adjusted")):
    figure.add_scatter(x=trend.period, y=trend[column], name=name, mode="lines+markers",
                       hovertemplate="%{x}: %{y:.0%}")
for level, name in ((close_floor, "close-rate floor"), (win_floor, "win-rate floor")):
    figure.add_hline(y=level, line_dash="dot", annotation_text=name, line_color="grey")
figure.update_layout(yaxis_tickformat=".0%", yaxis_rangemode="tozero", height=340,
                     legend_orientation="h", margin=dict(t=10))
st.plotly_chart(figure, width="stretch")
st.caption(f"{current.label} is still open: its rates cover deals closed so far.")

st.subheader("By dimension")
dimension = st.selectbox("Split by", [d for d in GROUP_COLUMNS if d != "stage"], key="rates_by",
                         index=list(GROUP_COLUMNS).index("competitor"), format_func=str.capitalize)
split = data.fetch("rates_by", window_start, window_end, view.as_of, dimension, view.filters)
if split.empty:
    st.info("No qualified deals closed in the window for this filter.")
else:
    rate_columns = [c for c in split.columns if "_rate_" in c]
    money_columns = [c for c in split.columns if c.endswith("_amount") and c not in rate_columns]
    widgets.table(split, f"rates-by-{dimension}.csv",
                  **{c: widgets.percent_column(c) for c in rate_columns},
                  **{c: widgets.money_column(c) for c in money_columns})

st.subheader("Rep capacity")
found = data.fetch("pace", window_start, window_end, view.as_of, view.filters)
inputs = st.columns(3)
capacity_input = inputs[0].number_input(
    "Active opportunities a rep can work", min_value=1, max_value=500, value=40, step=5,
    key="rep_capacity", help="How many open, qualified opportunities one rep can keep moving "
                             "at once: the manager's judgement.")
cycle_input = inputs[1].number_input(
    "Days to close (won deals)", min_value=1, max_value=1000, key="rep_cycle_days",
    value=int(round(found.median_cycle_days)) if found.median_cycle_days else 90,
    help=f"Median days from created to won, {fmt.count(found.won_deals)} deals won in the "
         "window." if found.median_cycle_days else "No won deal in the window: a guess.")
win_input = inputs[2].number_input(
    "Win rate", min_value=0.01, max_value=1.0, step=0.01, format="%.2f", key="rep_win_rate",
    value=round(win_rate["count"], 2) if win_rate["count"] else 0.5,
    help="Trailing win rate by deal count (above); change it to see what a better one buys.")
plan = Capacity(float(cycle_input), float(win_input), float(capacity_input))
tiles = st.columns(4)
tiles[0].metric("Months to close", f"{plan.months_to_close:.1f}", border=True,
                help="Days to close / 30.")
tiles[1].metric("Months to lose", f"{plan.months_to_lose:.1f}", border=True,
                help="A lost deal is let go in about half the time a won one takes.")
tiles[2].metric("Months on average", f"{plan.months_on_average:.1f}", border=True,
                help="Win rate × months to close + (1 − win rate) × months to lose.")
actual = found.accepted_per_rep_month
tiles[3].metric("New qualified opportunities needed", f"{plan.needed_per_month:.1f} a month",
                border=True,
                delta=f"{actual:.1f} a month taken on now ({found.reps} reps)" if actual
                else "none accepted in the window", delta_color="off", delta_arrow="off",
                help="Capacity / months on average: what keeps a rep's book full. Taken on now: "
                     "sales-accepted opportunities per rep per month in the window.")
if actual and plan.needed_per_month and actual < plan.needed_per_month:
    st.warning(f"Reps take on {actual:.1f} new qualified opportunities a month against the "
               f"{plan.needed_per_month:.1f} their capacity needs: books are emptying — more "
               "top-of-funnel, or fewer reps.")
