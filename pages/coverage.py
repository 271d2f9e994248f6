"""Coverage: is there enough pipeline for the period, per segment, region, team and owner, against
where past quarters stood at the same point, and for each rep over the year?"""

import plotly.graph_objects as go
import streamlit as st

from sales import formatting as fmt
from sales.coverage import (
    COMFORTABLE,
    HEALTHY,
    IN_BAND,
    NO_QUOTA,
    NO_TARGET,
    SHORT,
    SMB_METHOD,
    THIN,
    WATCH,
    WATCH_SHARE,
    counted_categories,
    same_week,
)
from sales.smb import smb_segments
from sales.stages import BEST_CASE, COMMIT, PIPELINE
from sales.targets import targets_fit
from ui import page, state, widgets
from ui.data import coverage_by, coverage_trend, rep_annual_coverage, smb_monthly

HEALTH_COLOURS = {HEALTHY: "#d8f3dc", WATCH: "#fff3bf", SHORT: "#ffd6d6", NO_TARGET: "",
                  COMFORTABLE: "#b7e4c7", IN_BAND: "#d8f3dc", THIN: "#ffd6d6", NO_QUOTA: ""}
QUARTER_COLOURS = ("#bdbdbd", "#969696", "#737373", "#525252")  # oldest to newest past quarter
MULTIPLE = "%.1f×"

view = page.start("Coverage")
settings = state.settings(state.database_path(), state.version())
healthy = settings.coverage_multiple
smb = smb_segments(settings)


# The verdict first, the numbers behind it after.
COLUMN_ORDER = ("segment", "region", "team", "owner", "month", "method", "coverage", "smb",
                "required", "health", "remaining", "enterprise", "target", "quota", "closed_won",
                "commit", "best_case", "pipeline", "expected_new", "open_pipeline", "close_rate")
LABELS = {"segment": "Segment", "region": "Region", "team": "Team", "owner": "Owner",
          "month": "Month", "method": "Method", "health": "Health"}


def _coloured(frame, file_name: str, **column_config) -> None:
    """A sortable table with each row in its health colour, and a CSV download of the numbers."""
    order = [c for c in COLUMN_ORDER if c in frame] + [c for c in frame if c not in COLUMN_ORDER]
    if "smb" in order and "coverage" in order:
        order.remove("smb")  # the row's coverage already is its SMB coverage on that method
    widgets.table(
        frame, file_name, column_order=order,
        row_style=lambda row: [f"background-color: {HEALTH_COLOURS[row['health']]}"
                               if HEALTH_COLOURS.get(row["health"]) else "" for _ in row],
        **{**{c: label for c, label in LABELS.items() if c in frame}, **column_config})


_MONEY = {c: widgets.money_column(label) for c, label in (
    ("closed_won", "Closed won"), ("commit", "Commit"), ("best_case", "Best Case"),
    ("pipeline", "Pipeline"), ("target", "Target"),
    ("expected_new", "Expected new pipeline"))}
_MULTIPLES = {c: st.column_config.NumberColumn(label, format=MULTIPLE) for c, label in (
    ("enterprise", "Enterprise coverage"), ("remaining", "Remaining coverage"),
    ("smb", "SMB coverage"), ("required", "Required"), ("coverage", "Coverage"))}

# --- Per segment, against the 3× line (enterprise) or 1 / close rate (SMB method).
st.subheader("Coverage by segment")
segments = coverage_by(view, "segment", settings)
if segments.empty:
    st.info(f"No deals close in {view.period.label} for this filter — widen the filter or pick "
            "another period.")
    st.stop()
figure = go.Figure()
on_smb = segments[segments["method"] == SMB_METHOD]
figure.add_bar(x=segments["segment"].map(fmt.chart_text), y=segments["coverage"], name="Coverage",
               marker_color=[widgets.CATEGORY_COLOURS[PIPELINE if m == SMB_METHOD else COMMIT]
                             for m in segments["method"]],
               customdata=segments["method"],
               hovertemplate="%{x}: %{y:.1f}× (%{customdata} method)<extra></extra>")
figure.add_bar(x=segments["segment"].map(fmt.chart_text), y=segments["remaining"].where(
                   segments["method"] != SMB_METHOD),
               name="Remaining coverage", marker_color=widgets.CATEGORY_COLOURS[BEST_CASE],
               hovertemplate="%{x}: %{y:.1f}× (Commit + Best Case) / what is left to close"
                             "<extra></extra>")
figure.add_hline(y=healthy, line_dash="dash", line_color="black",
                 annotation_text=f"{healthy:.1f}× healthy (enterprise)")
if len(on_smb):
    figure.add_scatter(x=on_smb["segment"].map(fmt.chart_text), y=on_smb["required"], mode="markers",
                       name="SMB required: 1 / close rate",
                       marker=dict(symbol="line-ew-open", size=90, color="black",
                                   line=dict(width=3)),
                       hovertemplate="%{x} needs %{y:.1f}×<extra></extra>")
figure.update_layout(barmode="group", yaxis_ticksuffix="×", height=380, margin=dict(t=10),
                     legend_orientation="h")
st.plotly_chart(figure, width="stretch")
if segments["target"].isna().all():
    st.warning("No target for this view, so no coverage: targets exist per segment, region, "
               "team or owner, one dimension at a time.")
if len(on_smb):
    rates = ", ".join(f"{fmt.text(row.segment)} {fmt.pct(row.close_rate)} → "
                      f"{fmt.multiple(row.required)}" for row in on_smb.itertuples())
    expected = ", ".join(f"{fmt.text(row.segment)} {fmt.money(row.expected_new)}"
                         for row in on_smb.itertuples())
    st.caption(
        f"{', '.join(map(fmt.text, on_smb['segment']))} on the SMB method (setting `smb_method_segments`): "
        "(Closed + Commit + Best Case + Pipeline + expected new pipeline) / target against "
        f"1 / trailing close rate ({rates}). Expected new pipeline ({expected}) is what past "
        "periods created after this point and had due in the period, on average (the SMB "
        "forecast page shows where it comes from).")
_coloured(segments, f"coverage-segment-{view.period.label}.csv",
              **_MONEY, **_MULTIPLES, close_rate=widgets.percent_column("Close rate"))


@st.fragment
def smb_by_month(view, settings) -> None:
    """The SMB segments by quarter or month: a choice here redraws only this part."""
    if st.radio("SMB segments by", ["quarter", "month"], horizontal=True, key="smb_view",
                format_func=str.capitalize) != "month":
        return
    monthly = smb_monthly(view, settings)
    if monthly.empty:
        st.caption("No SMB-method segment in this view.")
    else:
        st.caption("Each fiscal month against its own target, with the new pipeline past months "
                   "created after the same point: all of it for a month not yet begun, none "
                   "for one that has ended.")
        _coloured(monthly, f"smb-monthly-{view.period.label}.csv",
                      **{k: v for k, v in _MONEY.items() if k in monthly},
                      smb=_MULTIPLES["smb"], required=_MULTIPLES["required"],
                      close_rate=widgets.percent_column("Close rate"))


if smb:
    smb_by_month(view, settings)


# --- The same by region, team or owner.
@st.fragment
def by_dimension(view, settings) -> None:
    """Coverage by region, team or owner: a choice of rows redraws only this part."""
    st.subheader("By region, team or owner")
    dimension = st.radio("Rows", ["region", "team", "owner"], horizontal=True, key="coverage_by",
                         format_func=str.capitalize)
    by = coverage_by(view, dimension, settings)
    if by.empty:
        st.caption(f"No deals or targets by {dimension} for this view.")
    else:
        counts = by["health"].value_counts()
        st.caption(" · ".join(f"{counts.get(h, 0)} {h}" for h in (HEALTHY, WATCH, SHORT, NO_TARGET)
                              if counts.get(h, 0))
                   + f" — healthy at or above the required multiple, watch within "
                     f"{fmt.pct(WATCH_SHARE)} of it. Sort by any column.")
        _coloured(by, f"coverage-{dimension}-{view.period.label}.csv",
                      **_MONEY, **_MULTIPLES, close_rate=widgets.percent_column("Close rate"))


by_dimension(view, settings)

# --- This quarter against the same weeks of the last four.
st.subheader("This quarter against the last four")
trend = coverage_trend(view, settings)
if trend.empty or trend["forecastable"].eq(0).all():
    st.caption("Needs snapshots: each import records one, and past quarters are read from them.")
else:
    with_target = trend["coverage"].notna().all()
    measure = "coverage" if with_target else "forecastable"
    quarters = list(dict.fromkeys(trend["quarter"]))
    figure = go.Figure()
    for index, quarter in enumerate(quarters):
        part = trend[trend["quarter"] == quarter]
        current = bool(part["current"].iloc[0])
        figure.add_scatter(
            x=part["week"], y=part[measure], name=quarter + (" (this quarter)" if current else ""),
            mode="lines+markers" if current else "lines",
            line=dict(width=4 if current else 2,
                      color=widgets.CATEGORY_COLOURS[COMMIT] if current
                      else QUARTER_COLOURS[index % len(QUARTER_COLOURS)]),
            hovertemplate=f"{quarter} week %{{x:.0f}}: " + (
                "%{y:.2f}×" if with_target else "$%{y:,.0f}") + "<extra></extra>")
    if with_target and trend["method"].iloc[0] != SMB_METHOD:
        figure.add_hline(y=healthy, line_dash="dash", line_color="black",
                         annotation_text=f"{healthy:.1f}×")
    figure.update_layout(xaxis_title="Week of the quarter", height=400, margin=dict(t=40),
                         yaxis_ticksuffix="×" if with_target else "",
                         yaxis_tickprefix="" if with_target else "$",
                         legend=dict(orientation="h", y=1.12, x=0))
    st.plotly_chart(figure, width="stretch")
    at = same_week(trend)[["quarter", "day", "forecastable", "target", "coverage"]]
    what = " + ".join(counted_categories(trend["method"].iloc[0]))
    st.caption(f"Each quarter on the same day of the quarter as today ({what}, as the "
               "snapshots stood then)." + ("" if with_target else
                                            " No target for this view: amounts, not coverage."))
    widgets.table(at, f"coverage-same-week-{view.period.label}.csv", quarter="Quarter",
                  day="On", forecastable=widgets.money_column("Forecastable"),
                  target=widgets.money_column("Target"), coverage=_MULTIPLES["coverage"])

# --- Rep annual coverage against the band.
st.subheader(f"Rep annual coverage, FY{view.period.fiscal_year}")
low, high = settings.rep_coverage_low, settings.rep_coverage_high
reps = rep_annual_coverage(view, settings)
if reps.empty:
    st.caption("No owners with deals or quotas in this fiscal year for this view.")
else:
    if not targets_fit(view.filters, "owner"):
        st.warning("No quota for this view: a rep's quota covers their whole book, and this "
                   "view is cut by more than owner. Closed won and pipeline are shown per rep "
                   "without coverage; clear the other filters (or filter by owner) to compare "
                   "with the quotas.")
    figure = go.Figure()
    figure.add_hrect(y0=low, y1=high, fillcolor="#d8f3dc", opacity=0.6, line_width=0,
                     annotation_text=f"{low:.1f}–{high:.1f}× healthy")
    figure.add_bar(x=reps["owner"].map(fmt.chart_text), y=reps["coverage"], marker_color=[
        {THIN: "#e76f51", IN_BAND: "#2a9d8f", COMFORTABLE: "#1b9e77"}.get(h, "#bdbdbd")
        for h in reps["health"]], hovertemplate="%{x}: %{y:.1f}×<extra></extra>")
    figure.update_layout(yaxis_ticksuffix="×", height=360, margin=dict(t=10))
    st.plotly_chart(figure, width="stretch")
    st.caption(f"(Closed won in FY{view.period.fiscal_year} + open qualified pipeline closing in "
               f"it) / annual quota (the four quarter targets). Thin below {low:.1f}×.")
    _coloured(reps, f"rep-coverage-FY{view.period.fiscal_year}.csv",
                  closed_won=widgets.money_column("Closed won"),
                  open_pipeline=widgets.money_column("Open pipeline"),
                  quota=widgets.money_column("Annual quota"), coverage=_MULTIPLES["coverage"])
