"""Figures drawn the same in the app and in what leaves it (the digest's PNG): one colour per
report category, and the Overview's forecast categories by segment."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from sales import formatting as fmt
from sales.stages import BEST_CASE, CLOSED, COMMIT, OMITTED, PIPELINE, TOTAL_CATEGORIES, UNQUALIFIED

# One colour per report category, used by every chart so a category looks the same everywhere.
CATEGORY_COLOURS = {
    CLOSED: "#1b9e77",
    COMMIT: "#2c7fb8",
    BEST_CASE: "#7fcdbb",
    PIPELINE: "#c7e9b4",
    UNQUALIFIED: "#d9d9d9",
    OMITTED: "#fc9272",
}


def categories_by_segment(by_segment: pd.DataFrame, targets: dict[str, float]) -> go.Figure:
    """The Overview's chart: Closed won, Commit, Best Case and Pipeline stacked per segment
    (a `sales.rollup.rollup_by` frame by segment), with each segment's target as a tick."""
    shown = by_segment[by_segment.category.isin(TOTAL_CATEGORIES)]
    figure = go.Figure()
    for category in TOTAL_CATEGORIES:
        part = shown[shown.category == category]
        figure.add_bar(x=part.segment.map(fmt.chart_text), y=part.amount, name=category,
                       marker_color=CATEGORY_COLOURS[category], customdata=part["count"],
                       hovertemplate="%{x}: $%{y:,.0f} in %{customdata} deals")
    if targets:
        figure.add_scatter(x=[fmt.chart_text(s) for s in targets], y=list(targets.values()),
                           mode="markers", name="Target",
                           marker=dict(symbol="line-ew-open", size=40, color="black",
                                       line=dict(width=3)),
                           hovertemplate="%{x} target: $%{y:,.0f}")
    figure.update_layout(barmode="stack", yaxis_title="Amount", yaxis_tickprefix="$",
                         legend_orientation="h", margin=dict(t=10), height=380)
    return figure


# The digest's chart in a message: wide enough to read on a laptop, small enough for a phone.
MESSAGE_CHART_SIZE = (760, 380)


class ChartError(RuntimeError):
    """No browser to draw with, or the browser did not draw."""


def pngs(figures: list[go.Figure], size: tuple[int, int] = MESSAGE_CHART_SIZE) -> list[bytes]:
    """Each figure as PNG bytes, in one Kaleido session on the board pack's Chromium
    (`sales.boardpack.export.find_browser`); ChartError when there is none or it fails."""
    import asyncio
    import os

    import kaleido  # only loaded when images are asked for

    from sales.boardpack.export import NO_BROWSER, find_browser

    browser = find_browser()
    if browser is None:
        raise ChartError(NO_BROWSER)
    os.environ.setdefault("BROWSER_PATH", browser)  # where Kaleido's choreographer looks
    width, height = size

    async def draw() -> list[bytes]:
        async with kaleido.Kaleido(n=1, mathjax=False) as session:
            return [await session.calc_fig(go.Figure(figure).update_layout(
                        template="plotly_white", margin=dict(t=20, l=60, r=20, b=40)),
                        opts={"format": "png", "width": width, "height": height, "scale": 2})
                    for figure in figures]

    try:
        return asyncio.run(draw())
    except Exception as error:  # noqa: BLE001 - the browser's failures come in many types
        raise ChartError(f"Kaleido could not draw the chart: {error}") from None
