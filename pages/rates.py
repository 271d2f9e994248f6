"""Close and win rates: the trend by quarter, the split by any dimension, and what they mean
for each rep's capacity."""

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.capacity import GUESS, Capacity
from sales.query import GROUP_DIMENSIONS
from sales.rates import default_window, required_coverage
from ui import page, state, widgets
from ui.data import capacity_plan, rates_by, rates_trend, window_rates

window_start, window_end = default_window(state.current_view().period)
view = page.start("Close & win rates", caption=f"rates window {window_start} to {window_end}")
settings = state.settings(state.database_path(), state.version())
found = window_rates(view)
(close_amount, close_count), (_, win_count) = found.close_rate(), found.win_rate()

close_floor, win_floor = settings.close_rate_floor, settings.win_rate_floor
tiles = st.columns(4)
tiles[0].metric("Close rate (deals)", fmt.pct(close_count), border=True,
                delta=f"floor {fmt.pct(close_floor)}", delta_color="off", delta_arrow="off",
                help="Won / (won + lost to competition + lost to no decision), qualified deals "
                     "closed in the window.")
tiles[1].metric("Close rate (amount)", fmt.pct(close_amount), border=True)
tiles[2].metric("Win rate (deals)", fmt.pct(win_count), border=True,
                delta=f"floor {fmt.pct(win_floor)}, aim {fmt.pct(settings.win_rate_aim)}",
                delta_color="off", delta_arrow="off",
                help="Won / (won + lost to competition).")
tiles[3].metric("Coverage this close rate needs", fmt.multiple(required_coverage(close_count)),
                border=True, help="1 / close rate: a 33% close rate needs 3× pipeline, 25% needs 4×.")

# Slips count against the close rate too (docs/metrics.md#6-slippage-adjusted-close-rate): a
# deal pushed out of its quarter was not closed there, and coverage that counted on it was
# short.
adjusted_amount, adjusted = found.adjusted_close_rate()
tiles = st.columns(4)
tiles[0].metric("Close rate, slippage-adjusted (deals)", fmt.pct(adjusted), border=True,
                delta=f"{fmt.count(found.slipped.count)} slips in the window", delta_color="off",
                delta_arrow="off",
                help="Won / (won + lost to competition + lost to no decision + slipped): a deal "
                     "open and due in a quarter that was still open with a later close date at "
                     "the quarter's end slipped out of it (once per quarter it slips from).")
tiles[1].metric("Close rate, slippage-adjusted (amount)", fmt.pct(adjusted_amount), border=True,
                delta=f"{fmt.money(found.slipped.amount)} slipped", delta_color="off",
                delta_arrow="off")
tiles[2].metric("Coverage the adjusted rate needs", fmt.multiple(required_coverage(adjusted)),
                border=True, help="1 / slippage-adjusted close rate.")

st.subheader("Trend by quarter")
trend = rates_trend(view)
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
st.caption(f"{trend.period.iloc[-1]} is still open: its rates cover deals closed so far.")


@st.fragment
def by_dimension(view, window_start, window_end) -> None:
    """Rates split by a dimension: a choice of split redraws only this part."""
    st.subheader("By dimension")
    choices = [d for d in GROUP_DIMENSIONS if d != "stage"]
    dimension = st.selectbox("Split by", choices, key="rates_by", index=choices.index("competitor"),
                             format_func=str.capitalize)
    split = rates_by(window_start, window_end, view.as_of, dimension, view.filters)
    if split.empty:
        st.info("No qualified deals closed in the window for this filter.")
    else:
        rate_columns = [c for c in split.columns if "_rate_" in c]
        money_columns = [c for c in split.columns if c.endswith("_amount") and c not in rate_columns]
        widgets.table(split, f"rates-by-{dimension}.csv",
                      **{c: widgets.percent_column(c) for c in rate_columns},
                      **{c: widgets.money_column(c) for c in money_columns})


by_dimension(view, window_start, window_end)

@st.fragment
def rep_capacity(view, settings) -> None:
    """The capacity plan: trying other inputs redraws only this part."""
    st.subheader("Rep capacity")
    start = capacity_plan(view, settings)
    inputs = st.columns(3)
    capacity_input = inputs[0].number_input(
        "Active opportunities a rep can work", min_value=1.0, max_value=500.0,
        value=start.plan.capacity, step=5.0, format="%.0f", key="rep_capacity",
        help="How many open, qualified opportunities one rep can keep moving at once: the "
             "manager's judgement (setting `rep_capacity`).")
    cycle_input = inputs[1].number_input(
        "Days to close (won deals)", min_value=1.0, max_value=1000.0, step=1.0, format="%.0f",
        key="rep_cycle_days", value=start.plan.days_to_close,
        help=f"Median days from created to won, {fmt.count(start.pace.won_deals)} deals won in the "
             "window." if start.days_source != GUESS else "No won deal in the window: a guess.")
    win_input = inputs[2].number_input(
        "Win rate", min_value=0.01, max_value=1.0, step=0.01, format="%.2f", key="rep_win_rate",
        value=start.plan.win_rate,
        help="Trailing win rate by deal count (above); change it to see what a better one buys."
        if start.win_rate_source != GUESS else "No competitive outcome in the window: a guess.")
    plan = Capacity(float(cycle_input), float(win_input), float(capacity_input))
    tiles = st.columns(4)
    tiles[0].metric("Months to close", f"{plan.months_to_close:.1f}", border=True,
                    help="Days to close / 30.")
    tiles[1].metric("Months to lose", f"{plan.months_to_lose:.1f}", border=True,
                    help="A lost deal is let go in about half the time a won one takes.")
    tiles[2].metric("Months on average", f"{plan.months_on_average:.1f}", border=True,
                    help="Win rate × months to close + (1 − win rate) × months to lose.")
    actual = start.pace.accepted_per_rep_month
    needed = plan.needed_per_month
    tiles[3].metric("New qualified opportunities needed",
                    f"{needed:.1f} a month" if needed is not None else fmt.NOT_AVAILABLE,
                    border=True,
                    delta=f"{actual:.1f} a month taken on now ({start.pace.reps} reps)" if actual
                    else "none accepted in the window", delta_color="off", delta_arrow="off",
                    help="Capacity / months on average: what keeps a rep's book full. Taken on now: "
                         "sales-accepted opportunities per rep per month in the window.")
    if actual and needed and actual < needed:
        st.warning(f"Reps take on {actual:.1f} new qualified opportunities a month against the "
                   f"{needed:.1f} their capacity needs: books are emptying — more top-of-funnel, "
                   "or fewer reps.")


rep_capacity(view, settings)
