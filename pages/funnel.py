"""Funnel & velocity: how far the deals that closed got, how long each stage took, how long a
win takes and how big it is — and what that says about where the process leaks."""

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.funnel import pipeline_to_best_case
from sales.rates import default_window
from ui import page, state, widgets
from ui.data import funnel_stages, outcomes, velocity

window_start, window_end = default_window(state.current_view().period)
view = page.start("Funnel & velocity",
                  caption=f"qualified deals closed {window_start} to {window_end}")
stages = funnel_stages(window_start, window_end, view.as_of, view.filters)
speed = velocity(window_start, window_end, view.as_of, view.filters)
if speed.cohort == 0:
    st.info("No qualified deal closed in the window for this view — widen the filter or pick a "
            "later period.")
    st.stop()

tiles = st.columns(4)
tiles[0].metric("Deals closed in the window", fmt.count(speed.cohort), border=True,
                delta=f"{fmt.count(speed.won)} won", delta_color="off", delta_arrow="off")
tiles[1].metric("Median sales cycle (won)", f"{speed.median_cycle_days:.0f} days"
                if speed.median_cycle_days is not None else fmt.NOT_AVAILABLE, border=True,
                help="Days from created to closed, for the deals won in the window.")
tiles[2].metric("Average won deal", fmt.money(speed.average_won_amount), border=True)
tiles[3].metric("Won of those that closed", fmt.pct(speed.won_share), border=True,
                help="By deal count, of the qualified deals that closed (the close rate also "
                     "leaves out losses classed as excluded).")

st.subheader("How far deals get")
figure = go.Figure(go.Funnel(
    y=stages["stage"].map(fmt.chart_text), x=stages["reached"], textinfo="value+percent initial",
    marker={"color": [widgets.CATEGORY_COLOURS.get(c, "#2c7fb8") for c in stages["category"]]}))
figure.update_layout(height=60 * len(stages) + 80, margin=dict(t=10, l=10))
st.plotly_chart(figure, width="stretch")
widgets.table(stages, f"funnel-{window_start}-{window_end}.csv", stage="Stage",
              category="Category", reached="Deals that reached it",
              conversion=widgets.percent_column("Went on to the next"),
              median_days=st.column_config.NumberColumn("Median days in it", format="%.0f"))
st.caption("A deal reached a stage if it was seen in it or in a later one (small deals skip "
           "stages); a win passed them all. Days are counted between the weekly snapshots.")

# --- Where the process leaks (the sales handbook's reading).
st.subheader("Reading it")
handoff = pipeline_to_best_case(stages)
if handoff is not None:
    st.markdown(f"- **Pipeline → Best Case**: {fmt.pct(handoff.share)} of the deals that reached "
                f"{fmt.text(handoff.from_stage)} got to {fmt.text(handoff.to_stage)}, after a median "
                f"{handoff.days_in_pipeline:.0f} days in Pipeline stages. Slow or thin here is a "
                "persuasion (top of funnel) problem.")
done = outcomes(window_start, window_end, view.as_of, view.filters)
no_decision, competition = done.loss_shares()
if no_decision is not None:
    st.markdown(f"- **Lost to no decision**: {fmt.count(done.lost_no_decision.count)} "
                f"({fmt.pct(no_decision)} of losses) — many points to discovery and "
                "qualification.")
    st.markdown(f"- **Lost to competition**: {fmt.count(done.lost_competition.count)} "
                f"({fmt.pct(competition)} of losses) — many points to differentiation.")
st.markdown("- **Commit that slips** is a closing (bottom of funnel) problem: the "
            "slippage-adjusted close rate on *Close & win rates* counts it.")
