from datetime import date

import pytest

from sales.periods import (
    MONTH,
    QUARTER,
    completed_quarters_before,
    fiscal_year_of,
    fiscal_year_range,
    parse_period,
    period_containing,
)


def test_spec_example_fiscal_year_starting_in_february():
    # docs/data-model.md#periods-and-as-of: start month 2 → FY2027 = 2026-02-01 … 2027-01-31,
    # Q1 = Feb–Apr, Q4 = Nov–Jan, and 2026-11-22 is in FY2027-Q4.
    assert fiscal_year_range(2027, 2) == (date(2026, 2, 1), date(2027, 1, 31))
    q1 = parse_period("FY2027-Q1", 2)
    assert (q1.start, q1.end) == (date(2026, 2, 1), date(2026, 4, 30))
    q4 = parse_period("FY2027-Q4", 2)
    assert (q4.start, q4.end) == (date(2026, 11, 1), date(2027, 1, 31))
    assert period_containing(date(2026, 11, 22), QUARTER, 2).label == "FY2027-Q4"
    # November is the tenth month of a February year.
    assert period_containing(date(2026, 11, 22), MONTH, 2).label == "FY2027-M10"
    assert fiscal_year_of(date(2026, 1, 31), 2) == 2026
    assert fiscal_year_of(date(2026, 2, 1), 2) == 2027


def test_calendar_fiscal_year():
    q = period_containing(date(2026, 11, 23))
    assert (q.label, q.start, q.end) == ("FY2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
    assert parse_period("FY2026-M2").end == date(2026, 2, 28)


def test_labels_round_trip_and_shift():
    q = parse_period("fy2027-q4", 2)
    assert q.label == "FY2027-Q4"
    assert q.shift(1).label == "FY2028-Q1"
    assert q.shift(-4).label == "FY2026-Q4"
    assert [m.label for m in q.months()] == ["FY2027-M10", "FY2027-M11", "FY2027-M12"]
    assert [p.label for p in q.previous(2)] == ["FY2027-Q2", "FY2027-Q3"]


@pytest.mark.parametrize("label", ["2027-Q4", "FY2027-Q5", "FY2027-M13", "FY2027-M0", "Q4"])
def test_bad_labels_say_what_is_expected(label):
    with pytest.raises(ValueError, match="FY2027-Q4|must be"):
        parse_period(label)


def test_same_offset_into_an_earlier_period_is_capped_at_its_end():
    current = parse_period("FY2026-Q4")  # Oct 1 – Dec 31, 92 days
    earlier = parse_period("FY2026-Q1")  # Jan 1 – Mar 31, 90 days
    # Nov 20 is 50 days after Oct 1 (31 + 19); Jan 1 + 50 days = Feb 20 (31 + 19).
    assert earlier.same_offset(date(2026, 11, 20), current) == date(2026, 2, 20)
    # Day 92 of Q4 would be past the end of a 90-day quarter: capped.
    assert earlier.same_offset(date(2026, 12, 31), current) == date(2026, 3, 31)


def test_completed_quarters_before_a_quarter_and_a_month():
    q = parse_period("FY2026-Q4")
    assert [p.label for p in completed_quarters_before(q)] == [
        "FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q3"]
    # A month inside Q4: Q4 itself is not complete yet.
    m = parse_period("FY2026-M11")
    assert completed_quarters_before(m)[-1].label == "FY2026-Q3"
