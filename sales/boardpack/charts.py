"""The board pack's charts: Plotly figures drawn from the section's figures (never computed
here), styled for a board — few colours, labelled values, $12.4M / 37% / 2.6× on the axes.
Labels from data go through `sales.formatting.chart_text`. Sizes are set where a chart is
written (the document's boxes, the PNGs' slide size), not here."""

from __future__ import annotations

import plotly.graph_objects as go

from sales import formatting as fmt

INK, MUTED, GOOD, BAD, ACCENT, LIGHT = ("#1f2933", "#9aa5b1", "#1b9e77", "#d1495b", "#2c7fb8",
                                         "#a6cee3")
FONT = "Inter, 'Helvetica Neue', Arial, sans-serif"


def _style(figure: go.Figure, **layout: object) -> go.Figure:
    base = dict(template="plotly_white", font=dict(family=FONT, size=13, color=INK),
                margin=dict(l=60, r=20, t=30, b=50), legend=dict(orientation="h", y=-0.18, x=0),
                bargap=0.3)
    figure.update_layout(**{**base, **layout})
    return figure


def _money_axis(figure: go.Figure, values: list[float | None]) -> None:
    """Tick labels in board money ($12.4M) over the values' range."""
    top = max([v for v in values if v is not None] or [0.0])
    if top <= 0:
        return
    step = _nice_step(top / 4)
    ticks = [step * k for k in range(int(top / step) + 2)]
    figure.update_yaxes(tickvals=ticks, ticktext=[fmt.money(t) for t in ticks])


def _nice_step(raw: float) -> float:
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _empty(message: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, font=dict(size=15, color=MUTED),
                          x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _style(figure)


def same_point(rows: list[dict]) -> go.Figure:
    """In-blood (solid) and upside (light) at the same point of past quarters and now, with
    the plan and what each past quarter finally closed."""
    labels = [r["label"] for r in rows]
    figure = go.Figure()
    figure.add_bar(x=labels, y=[r["number"] for r in rows], name="In-blood number",
                   marker_color=ACCENT, text=[fmt.money(r["number"]) for r in rows],
                   textposition="inside", textangle=0, insidetextanchor="start",
                   hovertemplate="%{x}: in-blood $%{y:,.0f}<extra></extra>")
    figure.add_bar(x=labels, y=[r["upside"] for r in rows], name="Upside", marker_color=LIGHT,
                   hovertemplate="%{x}: upside $%{y:,.0f}<extra></extra>")
    figure.add_scatter(x=labels, y=[r["target"] for r in rows], name="Plan", mode="markers",
                       marker=dict(symbol="line-ew-open", size=44, color=INK,
                                   line=dict(width=3)),
                       hovertemplate="%{x}: plan $%{y:,.0f}<extra></extra>")
    figure.add_scatter(x=labels, y=[r["closed_won"] for r in rows], name="Finally closed won",
                       mode="markers", marker=dict(symbol="diamond", size=11, color=GOOD),
                       hovertemplate="%{x}: closed $%{y:,.0f}<extra></extra>")
    _money_axis(figure, [(r["number"] or 0) + (r["upside"] or 0) for r in rows]
                + [r["target"] for r in rows])
    return _style(figure, barmode="stack")


def weekly(rows: list[dict], target: float | None, period: str) -> go.Figure:
    """The in-blood number week by week: saved calls and the default rules, the call's top of
    range dotted, the plan as a line."""
    if not rows:
        return _empty(f"No saved call or snapshot in {period} yet")
    figure = go.Figure()
    for source, colour in (("saved call", ACCENT), ("default rules", MUTED)):
        part = [r for r in rows if r["source"] == source]
        if not part:
            continue
        figure.add_scatter(x=[r["week"] for r in part], y=[r["number"] for r in part],
                           name=f"In-blood ({source})", mode="lines+markers",
                           line=dict(color=colour, width=3 if source == "saved call" else 2),
                           hovertemplate="week %{x}: $%{y:,.0f}<extra></extra>")
        if source == "saved call":
            figure.add_scatter(x=[r["week"] for r in part], y=[r["range_high"] for r in part],
                               name="Top of the range (saved call)", mode="lines",
                               line=dict(color=colour, dash="dot"),
                               hovertemplate="week %{x}: $%{y:,.0f}<extra></extra>")
    if target:
        figure.add_hline(y=target, line_dash="dash", line_color=INK,
                         annotation_text=f"plan {fmt.money(target)}")
    _money_axis(figure, [r["range_high"] for r in rows] + [target or 0])
    return _style(figure, xaxis_title="Week of the period", xaxis_dtick=1)


def segment_coverage(rows: list[dict], multiple: float) -> go.Figure:
    if not rows:
        return _empty("No deals or targets in this view")
    names = [fmt.chart_text(r["segment"]) for r in rows]
    figure = go.Figure()
    figure.add_bar(x=names, y=[r["coverage"] for r in rows], name="Coverage",
                   marker_color=[GOOD if r["coverage"] is not None and r["required"] is not None
                                 and r["coverage"] >= r["required"] else BAD for r in rows],
                   text=[fmt.multiple(r["coverage"]) for r in rows], textposition="outside",
                   hovertemplate="%{x}: %{y:.1f}×<extra></extra>")
    figure.add_bar(x=names, y=[r["remaining"] if r["method"] != "SMB" else None for r in rows],
                   name="Remaining coverage", marker_color=LIGHT,
                   text=[fmt.multiple(r["remaining"]) if r["method"] != "SMB" else ""
                         for r in rows], textposition="outside",
                   hovertemplate="%{x}: %{y:.1f}× remaining<extra></extra>")
    figure.add_scatter(x=names, y=[r["required"] for r in rows], name="Needed", mode="markers",
                       marker=dict(symbol="line-ew-open", size=60, color=INK, line=dict(width=3)),
                       hovertemplate="%{x} needs %{y:.1f}×<extra></extra>")
    figure.add_hline(y=multiple, line_dash="dot", line_color=MUTED,
                     annotation_text=f"{fmt.multiple(multiple)}")
    return _style(figure, barmode="group", yaxis_ticksuffix="×")


def generated(rows: list[dict]) -> go.Figure:
    if not rows:
        return _empty("No pipeline generated")
    figure = go.Figure()
    figure.add_bar(x=[r["period"] for r in rows], y=[r["amount"] for r in rows],
                   name="Pipeline generated",
                   marker_color=[ACCENT] * (len(rows) - 1) + [LIGHT],
                   text=[fmt.money(r["amount"]) for r in rows], textposition="outside",
                   customdata=[r["count"] for r in rows],
                   hovertemplate="%{x}: $%{y:,.0f} in %{customdata:,} deals<extra></extra>")
    _money_axis(figure, [r["amount"] * 1.15 for r in rows])
    return _style(figure, showlegend=False)


def rep_coverage(rows: list[dict], low: float, high: float) -> go.Figure:
    if not rows:
        return _empty("No rep quotas for this view")
    rows = sorted(rows, key=lambda r: r["coverage"])
    figure = go.Figure()
    figure.add_hrect(y0=low, y1=high, fillcolor=GOOD, opacity=0.12, line_width=0,
                     annotation_text=f"{fmt.multiple(low)}–{fmt.multiple(high)}",
                     annotation_position="top left")
    figure.add_bar(x=[fmt.chart_text(r["owner"]) for r in rows], y=[r["coverage"] for r in rows],
                   marker_color=[BAD if r["coverage"] < low else GOOD for r in rows],
                   hovertemplate="%{x}: %{y:.1f}×<extra></extra>")
    figure.update_xaxes(showticklabels=len(rows) <= 30, tickangle=-45)
    return _style(figure, showlegend=False, yaxis_ticksuffix="×",
                  xaxis_title=f"{len(rows)} reps, lowest first")


def rates(rows: list[dict], floors: dict) -> go.Figure:
    if not rows:
        return _empty("No closed deals yet")
    figure = go.Figure()
    for key, name, colour, dash in (("close_rate", "Close rate", ACCENT, "solid"),
                                    ("win_rate", "Win rate", GOOD, "solid"),
                                    ("adjusted", "Close rate, slippage-adjusted", BAD, "dot")):
        figure.add_scatter(x=[r["period"] for r in rows], y=[r[key] for r in rows], name=name,
                           mode="lines+markers", line=dict(color=colour, width=3, dash=dash),
                           hovertemplate="%{x}: %{y:.0%}<extra></extra>")
    for level, name in ((floors["close_rate"], "close-rate floor"),
                        (floors["win_rate"], "win-rate floor"),
                        (floors["win_rate_aim"], "win-rate aim")):
        figure.add_hline(y=level, line_dash="dash", line_color=MUTED,
                         annotation_text=f"{name} {fmt.pct(level)}",
                         annotation_position="top left")
    return _style(figure, yaxis_tickformat=".0%", yaxis_range=[0, 1])


def loss_mix(no_decision: int, competition: int, competitors: list[dict]) -> go.Figure:
    if not no_decision and not competition:
        return _empty("No losses in the window")
    figure = go.Figure()
    names = ["No decision", "Competition"] + [fmt.chart_text(c["competitor"])
                                              for c in competitors]
    values = [no_decision, competition] + [c["lost"] for c in competitors]
    colours = [MUTED, BAD] + ["#e8a0a9"] * len(competitors)
    figure.add_bar(y=names, x=values, orientation="h", marker_color=colours,
                   text=[f"{v:,}" for v in values], textposition="outside", cliponaxis=False,
                   hovertemplate="%{y}: %{x:,} deals lost<extra></extra>")
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(range=[0, max(values) * 1.2])
    return _style(figure, showlegend=False, xaxis_title="deals lost (named competitors: part "
                                                        "of Competition)")


def make_or_break(deals: list[dict]) -> go.Figure:
    if not deals:
        return _empty("No open Commit or Best Case deals in the period")
    figure = go.Figure()
    for side, name, colour in (("included", "In the number", ACCENT),
                               ("excluded", "Left out (upside)", LIGHT)):
        part = [d for d in deals if d["side"] == side]
        figure.add_bar(y=[fmt.chart_text(d["label"]) for d in part],
                       x=[d["amount"] for d in part], orientation="h", name=name,
                       marker_color=colour, text=[fmt.money(d["amount"]) for d in part],
                       textposition="outside", cliponaxis=False,
                       hovertemplate="%{y}: $%{x:,.0f}<extra></extra>")
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(showticklabels=False, range=[0, max(d["amount"] for d in deals) * 1.25])
    return _style(figure, margin=dict(l=230, r=60, t=10, b=10), showlegend=False)


def accuracy(rows: list[dict], week_now: int | None,
             people: dict[str, list[tuple[int, float]]] | None = None) -> go.Figure:
    """Saved calls and the default rules by week, and the top of the hierarchy's own calls
    (`people`: name → [(week, mean |error|)]) dashed beside them."""
    rows = [r for r in rows if r["saved_call"] is not None or r["default_rules"] is not None]
    if not rows and not people:
        return _empty("No completed period with saved calls or snapshots yet")
    figure = go.Figure()
    for name, points in (people or {}).items():
        figure.add_scatter(x=[w for w, _ in points], y=[e for _, e in points],
                           name=f"{fmt.chart_text(name)}'s calls", mode="lines+markers",
                           line=dict(color=GOOD, width=3, dash="dash"),
                           hovertemplate="week %{x}: ±%{y:.0%}<extra></extra>")
    for key, name, colour in (("saved_call", "Saved calls", ACCENT),
                              ("default_rules", "Default rules", MUTED)):
        figure.add_scatter(x=[r["week"] for r in rows], y=[r[key] for r in rows], name=name,
                           mode="lines+markers", line=dict(color=colour, width=3),
                           hovertemplate="week %{x}: ±%{y:.0%}<extra></extra>")
    if week_now:
        figure.add_vline(x=week_now, line_dash="dot", line_color=INK,
                         annotation_text=f"this week ({week_now})")
    return _style(figure, yaxis_tickformat=".0%", xaxis_title="Week of the period",
                  yaxis_title="average distance from the outcome", xaxis_dtick=1,
                  yaxis_rangemode="tozero")
