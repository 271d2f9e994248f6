"""Overview: are we going to make the quarter?"""

import streamlit as st

from sales import formatting as fmt
from sales.charts import categories_by_segment
from sales.outlook import outlook
from sales.report import categories_frame
from sales.stages import CLOSED, TOTAL_CATEGORIES
from ui import page, state, widgets
from ui.data import freshness, headline, projection, rollup_by, segment_targets

view = page.start("Overview", caption=freshness)
top = headline(view)
settings = state.settings(state.database_path(), state.version())
target = top.target

tone, sentence = outlook(top)
{"good": st.success, "watch": st.warning, "risk": st.error}[tone](sentence)

cats, blood, rates = top.categories, top.in_blood, top.rates
closed = cats[CLOSED].amount
tiles = st.columns(3)
tiles[0].metric(
    "Closed won", fmt.money(closed),
    delta=f"{fmt.pct(top.attainment.closed_won)} of {fmt.money(target)} target"
    if target else
    "no target for this view", delta_color="off", delta_arrow="off", border=True,
    help=f"{cats[CLOSED].count:,} deals won with a close date in {view.period.label}.")
tiles[1].metric(
    "In-blood number", fmt.money(blood.number),
    delta=f"{fmt.pct(top.attainment.in_blood)} of target" if target else "no target",
    delta_color="off", delta_arrow="off", border=True,
    help=f"Closed won plus the deals included in the call ({blood.source}).")
tiles[2].metric(
    "Upside", fmt.money(blood.upside),
    delta=f"range {fmt.money(blood.number)} – {fmt.money(blood.range_high)}",
    delta_color="off", delta_arrow="off", border=True,
    help="Commit and Best Case deals left out of the in-blood number.")

projected = projection(view)
if projected["eligible"]:
    chance = projected["prob_target"]
    st.metric(
        "Projection (P50)", fmt.money(projected["p50"]),
        delta=f"P10–P90 {fmt.money(projected['p10'])} – {fmt.money(projected['p90'])}"
              + (f" · {fmt.pct(chance)} chance of making the target" if chance is not None
                 else " · no target for this view"),
        delta_color="off", delta_arrow="off", border=True,
        help="Closed won + each open, qualified deal drawn won with its win probability "
             "(10,000 draws) + what past quarters won at this week from deals not in view "
             "yet. Its track record is on Diagnostics › Forecast accuracy.")
else:
    st.caption(f"Projection: {projected['reason']}.")
if projected["refreshing"]:
    st.caption("Projection: from the previous scores, while the deals are being scored again.")

coverage = top.coverage.enterprise
healthy = settings.coverage_multiple
close_rate, win_rate = rates.close_rate()[1], rates.win_rate()[1]
close_floor, win_floor = settings.close_rate_floor, settings.win_rate_floor
window = f"{rates.window_start} to {rates.window_end}"
tiles = st.columns(3)
tiles[0].metric(
    "Enterprise coverage", fmt.multiple(coverage),
    delta=f"{coverage - healthy:+.1f}× vs {healthy:.1f}× healthy" if coverage is not None
    else "no target for this view", delta_color="normal" if coverage is not None else "off",
    border=True,
    help="(Closed + Commit + Best Case) / target. Remaining coverage: "
         f"{fmt.multiple(top.coverage.remaining)}.")
tiles[1].metric(
    "Close rate (trailing 4 quarters)", fmt.pct(close_rate),
    delta=f"{(close_rate - close_floor) * 100:+.0f} pts vs {fmt.pct(close_floor)} floor"
    if close_rate is not None else "no closed deals in the window",
    delta_color="normal" if close_rate is not None else "off", border=True,
    help=f"Won / (won + lost to competition + lost to no decision), by deal count, {window}. "
         f"By amount: {fmt.pct(rates.close_rate()[0])}.")
tiles[2].metric(
    "Win rate (trailing 4 quarters)", fmt.pct(win_rate),
    delta=f"{(win_rate - win_floor) * 100:+.0f} pts vs {fmt.pct(win_floor)} floor"
    if win_rate is not None else "no competitive outcomes in the window",
    delta_color="normal" if win_rate is not None else "off", border=True,
    help=f"Won / (won + lost to competition), by deal count, {window}. Aim "
         f"{fmt.pct(settings.win_rate_aim)}; by amount "
         f"{fmt.pct(rates.win_rate()[0])}.")

st.subheader("Forecast categories by segment")
by_segment = rollup_by(view, "segment")
shown = by_segment[by_segment.category.isin(TOTAL_CATEGORIES)]
if shown.empty:
    st.info(f"No deals close in {view.period.label} for this filter — widen the filter or pick "
            "another period.")
else:
    figure = categories_by_segment(by_segment, segment_targets(view))
    st.plotly_chart(figure, width="stretch")

st.subheader(f"Roll-up for {view.period.label}")
frame = categories_frame(top)
widgets.table(frame, f"rollup-{view.period.label}.csv", Amount=widgets.money_column("Amount"),
              **{"Share of target": widgets.percent_column("Share of target")})
