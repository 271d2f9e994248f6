"""SMB forecast: for segments with too many small deals to call one by one — today's pipeline
weighted by how it converted at the same point of past periods, plus the pipeline still to
be created; set against the target, the in-blood number and the reps' own numbers."""

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.smb import (
    FALLBACK,
    HAPPY_EARS,
    SANDBAGGING,
    SUBMISSIONS,
    smb_segments,
    smb_view,
    top_down_bottom_up,
)
from sales.stages import COMMIT
from ui import page, state, widgets
from ui.data import bottom_up, headline, smb_forecast

VERDICT_TEXT = {
    SANDBAGGING: "well below the weighted forecast: the reps may be sandbagging",
    HAPPY_EARS: "well above the weighted forecast: the reps may have happy ears",
}

view = page.start("SMB forecast")
settings = state.settings(state.database_path(), state.version())
narrowed = smb_view(view, settings)
if narrowed is None:
    method = ", ".join(map(fmt.text, smb_segments(settings))) or "none"
    st.info(f"No segment in this view is forecast with the SMB method (setting "
            f"`smb_method_segments`: {method}). Clear the segment filter or pick one of them.")
    st.stop()
forecast = smb_forecast(narrowed, settings)
top = headline(narrowed)
target, blood = top.target, top.in_blood

st.caption(f"{', '.join(map(fmt.text, narrowed.filters.segment))} (setting "
           "`smb_method_segments`): Closed + "
           "each category's open, qualified pipeline × how much of it was won at the same "
           f"point of the last {settings.history_periods} periods + the pipeline still "
           "to be created × its conversion.")

# --- The number, against the target and the call.
against = forecast.against(target, blood.number)
tiles = st.columns(5)
tiles[0].metric("Weighted forecast", fmt.money(forecast.total), border=True,
                delta=f"{fmt.pct(against['share_of_target'])} of target" if target else
                "no target for this view", delta_color="off", delta_arrow="off",
                help="Closed + r_Commit·Commit + r_BestCase·BestCase + r_Pipeline·Pipeline + "
                     "r_new·expected new pipeline.")
tiles[1].metric("Range", f"{fmt.money(forecast.low)} – {fmt.money(forecast.high)}", border=True,
                help="The same forecast with each category's rate at the lowest and at the "
                     "highest it was in one of the past periods (periods that had deals in the "
                     "category at that point; a fallback rate stays as it is).")
tiles[2].metric("Target", fmt.money(target), border=True,
                delta=f"gap {fmt.money(against['gap_to_target'])}" if target else None,
                delta_color="off", delta_arrow="off")
tiles[3].metric("In-blood number", fmt.money(blood.number), border=True,
                delta=f"{fmt.money(against['in_blood_difference'])} vs weighted",
                delta_color="off", delta_arrow="off",
                help=f"Closed won plus the deals included in the call ({blood.source}).")
tiles[4].metric("Closed won", fmt.money(forecast.closed), border=True,
                delta=f"{fmt.pct(top.attainment.closed_won)} of target" if target
                else None,
                delta_color="off", delta_arrow="off")
if forecast.uses_fallback:
    fallen = [t.name for t in forecast.terms if t.source == FALLBACK]
    st.warning(f"No history for {', '.join(fallen)}: the fallback rates from settings are used "
               "there" + (" and no new pipeline is expected." if forecast.periods_used == 0
                          else "."))

# --- How the number is built.
st.subheader("How the forecast is built")
levels = forecast.levels()
figure = go.Figure(go.Waterfall(
    x=levels["label"], y=levels["amount"], measure=levels["measure"],
    text=[fmt.money(v) for v in levels["amount"]], textposition="outside", cliponaxis=False,
    connector={"line": {"color": "#bdbdbd"}},
    increasing={"marker": {"color": widgets.CATEGORY_COLOURS[COMMIT]}},
    totals={"marker": {"color": "#2c7fb8"}}))
if target:
    figure.add_hline(y=target, line_dash="dash", line_color="black",
                     annotation_text=f"target {fmt.money(target)}")
figure.update_layout(yaxis_tickprefix="$", height=380, margin=dict(t=30), showlegend=False)
st.plotly_chart(figure, width="stretch")
widgets.table(forecast.terms_frame(), f"smb-forecast-{view.period.label}.csv", term="Term",
              amount=widgets.money_column("Standing now (new: expected)"),
              rate=widgets.percent_column("Rate"),
              low_rate=widgets.percent_column("Lowest period"),
              high_rate=widgets.percent_column("Highest period"), source="Rate from",
              forecast=widgets.money_column("Counts for"))

# --- Where the rates come from.
st.subheader("Where the rates come from")
history = forecast.history
if history.empty:
    st.caption("No completed period to learn from (setting `history_periods`).")
else:
    st.caption("Each past period seen the same number of days in as today (R): what stood in "
               "each category closing in that period, and how much of it was won there; the "
               "pipeline created after R that was due in the period, and how much was won. A "
               "period with no snapshot between its start and R is skipped.")
    shown = history.rename(columns=lambda c: c.replace(" ", "_").lower())
    money = {c: widgets.money_column(c.replace("_", " ").capitalize())
             for c in shown.columns if c.endswith(("_then", "_won", "_amount"))}
    widgets.table(shown, f"smb-history-{view.period.label}.csv", period="Period",
                  r_day="Seen at (R)", used="Read", **money)

# --- Top-down against bottom-up.
st.subheader("Top-down against bottom-up")
versus = top_down_bottom_up(forecast, bottom_up(narrowed), blood.number, settings)
if versus.source == SUBMISSIONS:
    bottom_label = f"Reps' submissions ({versus.owners:,} reps)"
else:
    st.caption("No rep in this view has submitted a number for the period yet: the in-blood "
               "number stands in for the bottom-up.")
    bottom_label = "In-blood number"
tiles = st.columns(2)
tiles[0].metric("Top-down (weighted forecast)", fmt.money(versus.top_down), border=True)
tiles[1].metric(f"Bottom-up: {bottom_label}", fmt.money(versus.bottom_up), border=True,
                delta=f"{fmt.pct(versus.share)} of top-down" if versus.share is not None
                else None, delta_color="off", delta_arrow="off")
bands = (f"bands {fmt.pct(settings.sandbagging_band)} – "
         f"{fmt.pct(settings.happy_ears_band)}")
if versus.verdict in VERDICT_TEXT:
    st.warning(f"Bottom-up is {VERDICT_TEXT[versus.verdict]} ({bands}).")
else:
    st.success(f"Bottom-up and top-down agree within the {bands}.")
