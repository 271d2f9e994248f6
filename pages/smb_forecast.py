"""SMB forecast: for segments with too many small deals to call one by one — today's pipeline
weighted by how it converted at the same point of past periods, plus the pipeline still to
be created; set against the target, the in-blood number and the reps' own numbers."""

from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.coverage import smb_segments
from sales.smb import FALLBACK, HAPPY_EARS, NEW, RATED, SANDBAGGING, bottom_up_share, compare
from ui import data, page, state, widgets

VERDICT_TEXT = {
    SANDBAGGING: "well below the weighted forecast: the reps may be sandbagging",
    HAPPY_EARS: "well above the weighted forecast: the reps may have happy ears",
}

view = page.start("SMB forecast")
settings = state.settings(state.database_path(), state.version())
method = smb_segments(settings)
chosen = [s for s in method if not view.filters.segment or s in view.filters.segment]
if not chosen:
    st.info(f"No segment in this view is forecast with the SMB method (setting "
            f"`smb_method_segments`: {', '.join(method) or 'none'}). Clear the segment filter "
            "or pick one of them.")
    st.stop()
smb_view = replace(view, filters=replace(view.filters, segment=tuple(chosen)))
forecast = data.fetch("smb_forecast", smb_view, settings)
report = data.headline(smb_view)
target, blood = report["target"], report["in_blood"]
terms = {t.name: t for t in forecast.terms}

st.caption(f"{', '.join(chosen)} (setting `smb_method_segments`): Closed + each category's open, "
           "qualified pipeline × how much of it was won at the same point of the last "
           f"{int(settings['history_periods'])} periods + the pipeline still to be created × "
           "its conversion.")

# --- The number, against the target and the call.
tiles = st.columns(4)
tiles[0].metric("Weighted forecast", fmt.money(forecast.total), border=True,
                delta=f"{fmt.pct(forecast.total / target)} of target" if target else
                "no target for this view", delta_color="off", delta_arrow="off",
                help="Closed + r_Commit·Commit + r_BestCase·BestCase + r_Pipeline·Pipeline + "
                     "r_new·expected new pipeline.")
tiles[1].metric("Target", fmt.money(target), border=True,
                delta=f"gap {fmt.money(target - forecast.total)}" if target else None,
                delta_color="off", delta_arrow="off")
tiles[2].metric("In-blood number", fmt.money(blood["number"]), border=True,
                delta=f"{fmt.money(blood['number'] - forecast.total)} vs weighted",
                delta_color="off", delta_arrow="off",
                help=f"Closed won plus the deals included in the call ({blood['source']}).")
tiles[3].metric("Closed won", fmt.money(forecast.closed), border=True,
                delta=f"{fmt.pct(forecast.closed / target)} of target" if target else None,
                delta_color="off", delta_arrow="off")
if forecast.uses_fallback:
    fallen = [t.name for t in forecast.terms if t.source == FALLBACK]
    st.warning(f"No history for {', '.join(fallen)}: the fallback rates from settings are used "
               "there" + (" and no new pipeline is expected." if forecast.periods_used == 0
                          else "."))

# --- How the number is built.
st.subheader("How the forecast is built")
labels = ["Closed", *[f"{c} × {terms[c].rate:.0%}" for c in RATED],
          f"New × {terms[NEW].rate:.0%}", "Forecast"]
values = [forecast.closed, *[terms[c].value for c in RATED], terms[NEW].value, forecast.total]
figure = go.Figure(go.Waterfall(
    x=labels, y=values, measure=["absolute", "relative", "relative", "relative", "relative",
                                 "total"],
    text=[fmt.money(v) for v in values], textposition="outside", cliponaxis=False,
    connector={"line": {"color": "#bdbdbd"}},
    increasing={"marker": {"color": widgets.CATEGORY_COLOURS["Commit"]}},
    totals={"marker": {"color": "#2c7fb8"}}))
if target:
    figure.add_hline(y=target, line_dash="dash", line_color="black",
                     annotation_text=f"target {fmt.money(target)}")
figure.update_layout(yaxis_tickprefix="$", height=380, margin=dict(t=30), showlegend=False)
st.plotly_chart(figure, width="stretch")
table = pd.DataFrame([{"term": t.name, "amount": t.amount, "rate": t.rate, "source": t.source,
                       "forecast": t.value} for t in forecast.terms])
widgets.table(table, f"smb-forecast-{view.period.label}.csv", term="Term",
              amount=widgets.money_column("Standing now (new: expected)"),
              rate=widgets.percent_column("Rate"), source="Rate from",
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
bottom = data.fetch("bottom_up", smb_view)
if bottom is None:
    st.caption("No rep in this view has submitted a number for the period yet: the in-blood "
               "number stands in for the bottom-up.")
    bottom_value, bottom_label = blood["number"], "In-blood number"
else:
    bottom_value, bottom_label = bottom.forecast, f"Reps' submissions ({bottom.owners:,} reps)"
verdict = compare(bottom_value, forecast.total, settings)
share = bottom_up_share(bottom_value, forecast.total)
tiles = st.columns(2)
tiles[0].metric("Top-down (weighted forecast)", fmt.money(forecast.total), border=True)
tiles[1].metric(f"Bottom-up: {bottom_label}", fmt.money(bottom_value), border=True,
                delta=f"{fmt.pct(share)} of top-down" if share is not None else None,
                delta_color="off", delta_arrow="off")
bands = (f"bands {fmt.pct(float(settings['sandbagging_band']))} – "
         f"{fmt.pct(float(settings['happy_ears_band']))}")
if verdict in VERDICT_TEXT:
    st.warning(f"Bottom-up is {VERDICT_TEXT[verdict]} ({bands}).")
else:
    st.success(f"Bottom-up and top-down agree within the {bands}.")
