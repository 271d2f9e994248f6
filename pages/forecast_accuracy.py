"""Forecast accuracy: which method would have called it? Every forecast method replayed week by
week on the completed periods before as-of, against what actually closed."""

import plotly.graph_objects as go
import streamlit as st

from sales import backtest
from sales import formatting as fmt
from sales.export import XLSX_MIME, xlsx_bytes
from sales.periods import MONTH, QUARTER
from ui import page, state, widgets
from ui.data import (
    backtest_verdict,
    forecast_backtest,
    people_accuracy_frame,
    projection_replay,
)

KINDS = {QUARTER: "Quarters", MONTH: "Months"}
# One colour per method, the same in both charts.
METHOD_COLOURS = dict(zip(backtest.METHODS, ("#2c7fb8", "#7fcdbb", "#41ab5d", "#e6550d",
                                             "#756bb1", "#dd1c77", "#969696", "#111111"),
                          strict=True))

view = page.start("Forecast accuracy",
                  caption="the four completed periods before as-of, each seen week by week")
settings = state.settings(state.database_path(), state.version())
kind = st.segmented_control("Periods", list(KINDS), format_func=KINDS.get, default=QUARTER,
                            key="accuracy_kind") or QUARTER
with st.spinner("Replaying every forecast method on the history…"):
    result = forecast_backtest(view, settings, kind)
# The projection trains a model per period: asked for, not computed on every visit.
if st.toggle("Add the projection (win probabilities; trains one model per period, about half "
             "a minute the first time)", key="accuracy_projection"):
    with st.spinner("Training a model at the start of each period and replaying it…"):
        result = backtest.with_projection(result, projection_replay(view, kind))


def who_calls_it_right() -> None:
    """Each person's own calls against what their part of the hierarchy closed (needs calls,
    not snapshots: it shows even when no method had a snapshot to forecast with)."""
    st.subheader("Who calls it right")
    people = people_accuracy_frame(view, kind)
    if people.empty:
        st.caption(f"No one's call in {', '.join(result.periods)} can be judged yet: people's calls "
                   "are submitted on the Roll-up page or with `python -m sales forecast submit`, "
                   "and the hierarchy imported with `python -m sales import FILE --kind hierarchy`.")
    else:
        st.caption("Each person's latest call at the start of every week against what the deals "
                   "owned by them or anyone below them closed won. Bias above zero: calls too high "
                   "(happy ears); below: too low (sandbagging). For a manager, the raw sum of their "
                   "direct reports' calls over the same weeks: did their adjustment bring the "
                   "number closer?")
        widgets.table(people, f"who-calls-it-right-{kind}.csv", user="Person", title="Title",
                      role="Role", weeks="Weeks judged",
                      mean_abs_error=widgets.percent_column("Average error"),
                      bias=widgets.percent_column("Bias"),
                      team_raw_mean_abs_error=widgets.percent_column("Team's raw sum: error"),
                      adjustment_helped=st.column_config.CheckboxColumn("Adjustment helped"))


if not any(result.actual.values()):
    st.info(f"Nothing closed won in {', '.join(result.periods)} for this view, so no method "
            "can be judged yet — widen the filters, pick months, or import more history.")
    st.stop()
if not result.frame["forecast"].notna().any():
    st.info(f"No method had anything to forecast with during {', '.join(result.periods)}: no "
            "snapshot, saved call or submission from inside those periods. The backtest replays "
            "history — import older exports with `--as-of` their date, or a Salesforce "
            "OpportunityHistory export.")
    who_calls_it_right()
    st.stop()

st.caption("Each method's forecast at the start of every week of the period (the state at the "
           "latest snapshot on or before that day), against what the period actually closed "
           "won as known today. Error = (forecast − actual) ÷ actual; a method with nothing to "
           "say that week (no snapshot yet, no saved call for this filter, no submission) is "
           "left out of that week's average.")
with st.spinner("Judging the methods per segment…"):
    st.info(backtest_verdict(view, settings, kind))  # segment names escaped for Markdown

if result.bands:
    said = backtest.projection_verdict(result)
    if said:
        st.info(said)
    coverage = result.interval_coverage()
    st.caption(f"The projection's P10–P90 range held the actual in {fmt.pct(coverage)} of the "
               "weeks (an honest range holds it in about 80%).")
elif result.projection_reasons:
    st.caption("Projection: " + fmt.text(next(iter(result.projection_reasons.values()))) + ".")

best = backtest.winner(result)
tiles = st.columns(3)
tiles[0].metric("Closest method", backtest.METHOD_LABELS[best[0]] if best else fmt.NOT_AVAILABLE,
                border=True, help="Lowest mean absolute error over the weeks of the periods.")
tiles[1].metric("Its average error", fmt.pct(best[1]) if best else fmt.NOT_AVAILABLE,
                border=True, help="Mean of |forecast − actual| ÷ actual over weeks and periods.")
stays = backtest.within_from(result, best[0]) if best else None
tiles[2].metric(f"Within {backtest.WITHIN_SHARE:.0%} from", f"week {stays[0]}" if stays else
                "never", border=True,
                help="The first week from which its average error stays within "
                     f"{backtest.WITHIN_SHARE:.0%} until the period ends.")

# --- Error by week, one line per method.
st.subheader("How far off, by week of the period")
lines = backtest.mean_error_by_week(result)
figure = go.Figure()
for method in backtest.METHODS:
    part = lines[lines["method"] == method]
    if part.empty:
        continue
    figure.add_scatter(
        x=part["week"], y=part["mae"], name=fmt.chart_text(backtest.METHOD_LABELS[method]),
        mode="lines+markers", line_color=METHOD_COLOURS[method],
        customdata=part[["by_period", "periods"]].to_numpy(),
        hovertemplate="week %{x}: %{y:.0%} off on average over %{customdata[1]} period(s)"
                      "<br>%{customdata[0]}<extra>%{fullData.name}</extra>")
figure.update_layout(xaxis_title="Week of the period", yaxis_title="Mean absolute error",
                     yaxis_tickformat=".0%", xaxis_dtick=1, height=400, margin=dict(t=10),
                     legend_orientation="h")
st.plotly_chart(figure, width="stretch")

# --- One period: the forecasts beside the actual.
st.subheader("One period: every forecast against what closed")
chosen = st.selectbox("Period", list(result.periods), index=len(result.periods) - 1,
                      key="accuracy_period")
actual = result.actual[chosen]
one = result.frame[result.frame["period"] == chosen]
figure = go.Figure()
for method in backtest.METHODS:
    part = one[one["method"] == method].dropna(subset=["forecast"])
    if part.empty:
        continue
    figure.add_scatter(x=part["week"], y=part["forecast"],
                       name=fmt.chart_text(backtest.METHOD_LABELS[method]),
                       mode="lines+markers", line_color=METHOD_COLOURS[method],
                       customdata=part[["error"]].to_numpy(),
                       hovertemplate="week %{x}: %{y:$,.0f} (%{customdata[0]:+.0%})"
                                     "<extra>%{fullData.name}</extra>")
band = [(w, *result.bands[(chosen, w)]) for w in sorted(one["week"].unique())
        if (chosen, w) in result.bands]
if band:  # the projection's P10–P90, shaded under its P50 line
    weeks_, low, high = zip(*band, strict=True)
    figure.add_scatter(x=[*weeks_, *weeks_[::-1]], y=[*high, *low[::-1]], fill="toself",
                       fillcolor="rgba(17,17,17,0.12)", line_width=0, hoverinfo="skip",
                       name="Projection P10–P90")
figure.add_hline(y=actual, line_color="black", line_dash="dash",
                 annotation_text=f"actual {fmt.money(actual)}")
figure.update_layout(xaxis_title="Week of the period", yaxis_tickprefix="$", xaxis_dtick=1,
                     height=400, margin=dict(t=10), legend_orientation="h")
st.plotly_chart(figure, width="stretch")

# --- The projection's calibration: predicted against observed win rate.
if result.reliability is not None and len(result.reliability):
    st.subheader("Are the win probabilities right? Predicted against observed, by decile")
    brier = {m: v["brier"] for m, v in result.calibration.items()}
    st.caption(f"Brier score (lower is better) over every scored deal and week: the model "
               f"{brier['projection']:.3f}, per-stage win rates from the same history "
               f"{brier['stage_rates']:.3f}, the stage map's probabilities "
               f"{brier['stage_weighted']:.3f}.")
    deciles = result.reliability
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line_dash="dot",
                       line_color="#969696", name="perfectly calibrated", hoverinfo="skip")
    figure.add_scatter(x=deciles["predicted"], y=deciles["observed"], mode="lines+markers",
                       line_color=METHOD_COLOURS[backtest.PROJECTION], name="the model",
                       customdata=deciles[["deals"]].to_numpy(),
                       hovertemplate="predicted %{x:.0%}, won %{y:.0%} of %{customdata[0]:,}"
                                     "<extra></extra>")
    figure.update_layout(xaxis_title="Predicted win probability", yaxis_title="Share won",
                         xaxis_tickformat=".0%", yaxis_tickformat=".0%", height=380,
                         margin=dict(t=10), legend_orientation="h")
    st.plotly_chart(figure, width="stretch")

# --- The table.
st.subheader("Every forecast")
rows = backtest.table(result)
widgets.table(rows, f"forecast-accuracy-{kind}.csv", method=None, method_label="Method",
              period="Period", week="Week", as_of="Seen as of", snapshot_date="Snapshot",
              forecast=widgets.money_column("Forecast"), actual=widgets.money_column("Actual"),
              error=widgets.percent_column("Error"),
              absolute_error=widgets.percent_column("Absolute error"))
st.download_button("Download XLSX",
                   lambda: xlsx_bytes({"Forecasts": rows,
                                       "By week": backtest.mean_error_by_week(result)}),
                   file_name=f"forecast-accuracy-{kind}.xlsx", mime=XLSX_MIME,
                   key="accuracy-xlsx")

who_calls_it_right()
