"""The one-sentence answer to "are we going to make the quarter?", from the headline."""

from __future__ import annotations

from sales import formatting as fmt
from sales.report import Headline


def outlook(top: Headline) -> tuple[str, str]:
    """(tone, sentence): tone is 'good', 'watch' or 'risk' for the screen's colour.

    good: the in-blood number already reaches the target; watch: in-blood plus upside
    reaches it; risk: even the top of the range falls short. No target: 'watch', said so.
    """
    target = top.target
    number, upside = top.in_blood.number, top.in_blood.upside
    period = top.view.period.label
    if target is None:
        return "watch", (f"No target for this view in {period}: forecast {fmt.money(number)}, "
                         f"range up to {fmt.money(number + upside)}.")
    gap = target - number
    if gap <= 0:
        return "good", (f"On track: the in-blood number {fmt.money(number)} covers the "
                        f"{fmt.money(target)} target for {period} ({fmt.pct(number / target)}).")
    if number + upside >= target:
        return "watch", (f"Within reach: {fmt.money(gap)} short of the {fmt.money(target)} "
                         f"target; the {fmt.money(upside)} upside would have to deliver "
                         f"{fmt.pct(gap / upside)} of itself.")
    return "risk", (f"At risk: even the top of the range ({fmt.money(number + upside)}) is "
                    f"{fmt.money(target - number - upside)} short of the {fmt.money(target)} "
                    f"target for {period}.")
