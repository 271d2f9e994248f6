"""The board pack's diagnosis: one plain sentence per segment naming its problem — conversion,
slippage, pipeline or capacity — from the numbers the pack shows, by rules stated in `RULES`
(printed beside the verdicts, so a board member can check them).

The handbook's reading: explain calmly whether you have a pipeline challenge, a conversion
problem, or neither and simply not enough sales capacity ("if close rates are good and
qualified pipe is good, never be shy to add more AE capacity"); deals pushed from quarter to
quarter flatter the close rate, so slippage is judged apart. The rules run in order and the
first that holds names the problem:

1. conversion — the close rate (by deal count, trailing four quarters) is below the
   `close_rate_floor`: more pipeline at this rate only loses more deals;
2. slippage — the close rate clears the floor but the slippage-adjusted close rate does not:
   deals are pushed, not closed;
3. pipeline — coverage is below the multiple the segment needs (`coverage_multiple` on the
   enterprise method, 1 / close rate on the SMB method);
4. capacity — the close rate, the adjusted close rate and coverage all hold up: the limit is
   how many reps work the pipeline.

A segment without a closed deal in the window, or without a target, is said to lack the data
for a verdict instead of being given one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import duckdb

from sales import formatting as fmt
from sales.rates import Slips, rates_by
from sales.settings import Settings
from sales.slippage import slipped_by_period
from sales.view import View, ratio

CONVERSION, SLIPPAGE, PIPELINE, CAPACITY, NOT_ENOUGH_DATA = (
    "conversion problem", "slippage problem", "pipeline problem", "capacity", "not enough data")
VERDICTS = (CONVERSION, SLIPPAGE, PIPELINE, CAPACITY, NOT_ENOUGH_DATA)


def rules(settings: Settings) -> list[dict[str, str]]:
    """The rules as the pack prints them, in the order they are tried, with the floors from
    settings."""
    floor = fmt.pct(settings.close_rate_floor)
    multiple = fmt.multiple(settings.coverage_multiple)
    return [
        {"verdict": CONVERSION,
         "rule": f"close rate (deals, trailing 4 quarters) below the {floor} floor"},
        {"verdict": SLIPPAGE,
         "rule": f"close rate at or above {floor}, but the slippage-adjusted close rate below it"},
        {"verdict": PIPELINE,
         "rule": f"coverage below the multiple the segment needs ({multiple} on the enterprise "
                 "method, 1 / close rate on the SMB method)"},
        {"verdict": CAPACITY,
         "rule": "close rates and coverage all hold up: growth is limited by sales capacity"},
        {"verdict": NOT_ENOUGH_DATA,
         "rule": "no qualified deal closed in the window, or no target for the segment"},
    ]


@dataclass(frozen=True)
class SegmentFacts:
    """What the rules read for one segment. Rates are fractions, coverage multiples; None
    where undefined."""

    segment: str
    close_rate: float | None
    adjusted_close_rate: float | None
    coverage: float | None
    required: float | None


def diagnose(facts: SegmentFacts, settings: Settings) -> dict[str, object]:
    """The verdict for one segment and the sentence that says it, by the rules in order."""
    floor = settings.close_rate_floor
    name = facts.segment
    close, adjusted = facts.close_rate, facts.adjusted_close_rate
    coverage, required = facts.coverage, facts.required
    short = coverage is not None and required is not None and round(coverage - required, 9) < 0
    cover_text = (f"coverage {fmt.multiple(coverage)} against the {fmt.multiple(required)} it "
                  "needs" if coverage is not None and required is not None else "")
    also = f"; {cover_text} is short too" if short else ""
    if close is None:
        verdict = NOT_ENOUGH_DATA
        sentence = (f"{name}: not enough data — no qualified deal closed in the last four "
                    "quarters, so conversion cannot be judged.")
    elif close < floor:
        verdict = CONVERSION
        sentence = (f"{name}: a conversion problem — the close rate is {fmt.pct(close)}, below "
                    f"the {fmt.pct(floor)} floor{also}.")
    elif adjusted is not None and adjusted < floor:
        verdict = SLIPPAGE
        sentence = (f"{name}: a slippage problem — the close rate is {fmt.pct(close)}, but "
                    f"{fmt.pct(adjusted)} once slipped deals count, below the "
                    f"{fmt.pct(floor)} floor{also}.")
    elif coverage is None or required is None:
        verdict = NOT_ENOUGH_DATA
        sentence = (f"{name}: not enough data — the close rate of {fmt.pct(close)} holds up, "
                    "but there is no target to judge coverage against.")
    elif short:
        verdict = PIPELINE
        sentence = (f"{name}: a pipeline problem — {cover_text}, while the close rate of "
                    f"{fmt.pct(close)} holds up.")
    else:
        verdict = CAPACITY
        sentence = (f"{name}: capacity — the close rate of {fmt.pct(close)} and {cover_text} "
                    "hold up, so more reps would close more.")
    return {"segment": name, "verdict": verdict, "sentence": sentence,
            "close_rate": close, "adjusted_close_rate": adjusted, "coverage": coverage,
            "required": required}


def segment_facts(con: duckdb.DuckDBPyConnection, view: View, window: tuple[date, date],
                  slips: Slips, coverage: list[tuple[str, float | None, float | None]]
                  ) -> list[SegmentFacts]:
    """What the rules read for each segment of the view: its trailing close rate and
    slippage-adjusted close rate (by count, over the rates window) and its coverage against
    what it needs (`coverage`: (segment, coverage, required), as the Coverage page has them).
    Grain: one per segment of `coverage`, in its order."""
    outcomes = rates_by(con, *window, view.as_of, "segment", view.filters).set_index("segment")
    found = []
    for name, coverage_now, required in coverage:
        slipped = slipped_by_period(con, slips.window, view.as_of,
                                    replace(view.filters, segment=(name,)), slips.cube)
        if name in outcomes.index:
            got = outcomes.loc[name]
            won = int(got["won_count"])
            decided = won + int(got["lost_competition_count"]) + int(
                got["lost_no_decision_count"])
            close = ratio(won, decided)
            adjusted = ratio(won, decided + int(slipped["slipped_count"].sum()))
        else:
            close = adjusted = None
        found.append(SegmentFacts(name, close, adjusted, coverage_now, required))
    return found
