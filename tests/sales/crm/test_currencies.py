"""A multi-currency Salesforce org (USD corporate; EUR, GBP and CAD deals; dated rates that change
at quarter starts, static rates that differ from them), synced through the local HTTPS
stand-in: the report matches one built from the same deals in USD, a CSV export's
"Amount (converted)" does too, and a change of rates shows as the movement's currency bar.

Rates are Salesforce's: units of the currency per one USD. By hand, at each deal's close date:

    EUR dated: … 2026-07-01: 0.95 | 2026-07-01 … 2026-10-01: 0.90 | 2026-10-01 … 2027-01-01: 0.80
               | 2027-01-01 …: 0.75                                    (static 0.50: never used)
    GBP dated: … 2026-10-01: 0.80 | 2026-10-01 …: 0.625                (static 0.50: never used)
    CAD: no dated rates, static 1.25
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from sales import cli
from sales.currency import RateTable, display_factor, load_rates
from sales.db import connect
from sales.ingest import ImportRequest, read_bytes, run_import
from sales.periods import QUARTER, period_containing
from sales.report import full_report, with_movement
from sales.view import Filters, View
from tests.sales.crm.fakes import one_deal, sync

AS_OF, NEXT = date(2026, 10, 19), date(2026, 10, 26)
STAMP = "2026-10-01T10:00:00.000+0000"
CURRENCIES = [{"IsoCode": "USD", "ConversionRate": 1.0, "IsCorporate": True},
              {"IsoCode": "EUR", "ConversionRate": 0.5, "IsCorporate": False},
              {"IsoCode": "GBP", "ConversionRate": 0.5, "IsCorporate": False},
              {"IsoCode": "CAD", "ConversionRate": 1.25, "IsCorporate": False}]


def dated(eur_q4: float = 0.80) -> list[dict]:
    ranges = [("USD", "0001-01-01", "9999-12-31", 1.0),
              ("EUR", "0001-01-01", "2026-07-01", 0.95), ("EUR", "2026-07-01", "2026-10-01", 0.90),
              ("EUR", "2026-10-01", "2027-01-01", eur_q4), ("EUR", "2027-01-01", "9999-12-31", 0.75),
              ("GBP", "0001-01-01", "2026-10-01", 0.80), ("GBP", "2026-10-01", "9999-12-31", 0.625)]
    return [{"IsoCode": c, "StartDate": s, "NextStartDate": e, "ConversionRate": r}
            for c, s, e, r in ranges]


# id: currency, amount, stage, category, close date, USD by hand
DEALS = {
    "D1": ("EUR", 80_000, "Negotiation/Review", "Commit", "2026-12-15", 100_000.00),  # /0.80
    "D2": ("EUR", 45_000, "Needs Analysis", "Pipeline", "2027-01-20", 60_000.00),     # /0.75
    "D3": ("GBP", 50_000, "Proposal/Price Quote", "Best Case", "2026-11-30", 80_000.00),  # /0.625
    "D4": ("USD", 30_000, "Negotiation/Review", "Commit", "2026-12-01", 30_000.00),
    "D5": ("CAD", 62_500, "Perception Analysis", "Best Case", "2026-12-10", 50_000.00),  # /1.25
    "D6": ("EUR", 9_000, "Closed Won", "Closed", "2026-09-15", 10_000.00),            # /0.90
    # its close date moved across the 2026-10-01 boundary (see HISTORY)
    "D7": ("EUR", 19_000, "Qualification", "Pipeline", "2026-10-30", 23_750.00),      # /0.80
    "D8": ("GBP", 10_000, "Closed Lost", "Omitted", "2026-10-07", 16_000.00),         # /0.625
}
# OpportunityHistory: deal, day, stage, category, amount, close date, USD by hand (each row at
# its own close date's rate).
HISTORY = [
    ("D1", "2026-09-21", "Proposal/Price Quote", "BestCase", 70_000, "2026-12-15", 87_500.00),
    ("D1", "2026-10-12", "Negotiation/Review", "Forecast", 80_000, "2026-12-15", 100_000.00),
    ("D2", "2026-09-21", "Needs Analysis", "Pipeline", 45_000, "2027-01-20", 60_000.00),
    ("D3", "2026-09-28", "Proposal/Price Quote", "BestCase", 50_000, "2026-11-30", 80_000.00),
    ("D4", "2026-09-28", "Negotiation/Review", "Forecast", 30_000, "2026-12-01", 30_000.00),
    ("D5", "2026-10-05", "Perception Analysis", "BestCase", 62_500, "2026-12-10", 50_000.00),
    ("D6", "2026-09-07", "Negotiation/Review", "Forecast", 9_000, "2026-09-15", 10_000.00),
    ("D6", "2026-09-14", "Closed Won", "Closed", 9_000, "2026-09-15", 10_000.00),
    ("D7", "2026-09-14", "Qualification", "Pipeline", 19_000, "2026-09-25", 21_111.11),  # /0.90
    ("D7", "2026-10-12", "Qualification", "Pipeline", 19_000, "2026-10-30", 23_750.00),  # /0.80
    ("D8", "2026-09-14", "Prospecting", "Pipeline", 10_000, "2026-09-30", 12_500.00),    # /0.80
    ("D8", "2026-10-12", "Closed Lost", "Omitted", 10_000, "2026-10-07", 16_000.00),     # /0.625
]


def opportunities(corporate: bool) -> list[dict]:
    rows = []
    for n, (key, (code, amount, stage, category, close, usd)) in enumerate(DEALS.items(), 1):
        fields = {"Id": f"006D{n:014d}", "Name": key, "StageName": stage,
                  "ForecastCategoryName": category, "CloseDate": close,
                  "Amount": float(usd if corporate else amount),
                  "IsClosed": category in ("Closed", "Omitted"), "IsWon": category == "Closed",
                  "CreatedDate": "2026-09-01T10:00:00.000+0000", "SystemModstamp": STAMP}
        if not corporate:
            fields["CurrencyIsoCode"] = code
        rows.append(one_deal(**fields))
    return rows


def history(corporate: bool) -> list[dict]:
    ids = {key: f"006D{n:014d}" for n, key in enumerate(DEALS, 1)}
    return [{"Id": f"008D{n:014d}", "OpportunityId": ids[key], "CreatedDate": f"{day}T09:00:00.000+0000",
             "StageName": stage, "ForecastCategory": category,
             "Amount": float(usd if corporate else amount), "CloseDate": close, "IsDeleted": False}
            for n, (key, day, stage, category, amount, close, usd) in enumerate(HISTORY, 1)]


def multi_currency(fake) -> None:
    fake.opportunities, fake.history = opportunities(False), history(False)
    fake.currencies, fake.dated_rates = CURRENCIES, dated()


def report(db, as_of: date = AS_OF) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        view = View(period_containing(as_of, QUARTER, 1), as_of, Filters())
        return with_movement(con, full_report(con, view), None).as_report()
    finally:
        con.close()


def test_rate_table_by_hand():
    table = load_rates_from(dated())
    # a close date on a boundary takes the range starting there; CAD has only its static rate
    assert table.convert(80_000, "EUR", "USD", date(2026, 10, 1)) == Decimal("100000.00")
    assert table.convert(80_000, "EUR", "USD", date(2026, 9, 30)) == Decimal("88888.89")
    assert table.convert(62_500, "CAD", "USD", date(2026, 12, 10)) == Decimal("50000.00")
    assert table.convert(1, "JPY", "USD", date(2026, 12, 10)) is None
    # rebased on EUR: 1 GBP = 0.80 / 0.625 EUR in Q4
    assert table.convert(100, "GBP", "EUR", date(2026, 11, 1)) == Decimal("128.00")


def load_rates_from(rows: list[dict]) -> RateTable:
    from sales.crm.salesforce import Rate

    return RateTable((*(Rate(c["IsoCode"], Decimal(str(c["ConversionRate"])))
                        for c in CURRENCIES),
                      *(Rate(r["IsoCode"], Decimal(str(r["ConversionRate"])), True,
                             date.fromisoformat(r["StartDate"]),
                             date.fromisoformat(r["NextStartDate"])) for r in rows)))


@pytest.mark.slow
def test_a_multi_currency_org_reports_as_its_deals_in_usd(org, tmp_path):  # noqa: F811
    multi_currency(org)
    multi, usd = tmp_path / "multi.duckdb", tmp_path / "usd.duckdb"
    assert sync(multi, "--as-of", AS_OF.isoformat()) == 0
    org.opportunities, org.history = opportunities(True), history(True)
    org.currencies = org.dated_rates = None
    assert sync(usd, "--as-of", AS_OF.isoformat()) == 0
    a, b = report(multi), report(usd)
    assert a == b
    assert a["currency"] == "USD"
    # Q4 Commit: D1 100,000 + D4 30,000; Best Case: D3 80,000 + D5 50,000; Pipeline: D7 23,750
    assert (a["categories"]["Commit"]["amount"], a["categories"]["Best Case"]["amount"],
            a["categories"]["Pipeline"]["amount"]) == (130_000, 130_000, 23_750)
    con = connect(multi)
    rows = dict((r[0], r[1:]) for r in con.execute(
        "select name, amount, amount_original, currency from opportunities").fetchall())
    assert rows["D1"] == (Decimal("100000.00"), Decimal("80000.00"), "EUR")
    assert rows["D5"] == (Decimal("50000.00"), Decimal("62500.00"), "CAD")
    # D7's history: 19,000 EUR closing 2026-09-25 (0.90) then 2026-10-30 (0.80)
    assert con.execute("""select list(h.amount order by valid_from) from opportunity_history h
                          join opportunities o using (opportunity_id) where o.name = 'D7'"""
                       ).fetchall()[0][0] == [Decimal("21111.11"), Decimal("23750.00")]
    assert con.execute("select value from settings where name = 'corporate_currency'"
                       ).fetchall() == [("USD",)]
    con.close()


@pytest.mark.slow
def test_rates_that_change_show_as_the_currency_bar(org, tmp_path, capsys):  # noqa: F811
    multi_currency(org)
    db = tmp_path / "multi.duckdb"
    assert sync(db, "--as-of", AS_OF.isoformat()) == 0
    # A week later the euro strengthens for Q4 (0.80 → 0.64 per USD) and CAD's static rate goes
    # 1.25 → 1.00, while D5's amount grows 62,500 → 75,000 CAD.
    org.dated_rates = dated(eur_q4=0.64)
    org.currencies = [dict(c, ConversionRate=1.0) if c["IsoCode"] == "CAD" else c
                      for c in CURRENCIES]
    d5 = org.opportunities[4]
    d5.update(Amount=75_000.0, SystemModstamp="2026-10-25T10:00:00.000+0000")
    assert sync(db, "--as-of", NEXT.isoformat()) == 0
    moved = report(db, NEXT)["movement"]
    # Commit: D1 80,000 EUR at 12-15: 125,000 (÷0.64) − 100,000 (÷0.80) = 25,000 from rates and
    # nothing of its own; D4 (USD) did not change.
    commit = moved["Commit"]
    assert (commit["currency"], commit["amount_up"], commit["start"], commit["end"]) == (
        25_000, 0, 130_000, 155_000)
    # Best Case: D5 75,000 CAD: now 75,000 (÷1.00) − at the old rate 60,000 (÷1.25) = 15,000
    # from rates; the rest, 60,000 − 50,000 = 10,000, is its own amount_up.
    best = moved["Best Case"]
    assert (best["currency"], best["amount_up"], best["start"], best["end"]) == (
        15_000, 10_000, 130_000, 155_000)
    # Pipeline: D7 19,000 EUR at 10-30: 29,687.50 (÷0.64) − 23,750 (÷0.80) = 5,937.50
    assert moved["Pipeline"]["currency"] == 5_937.50
    # history keeps last week's converted amounts: D1 was 100,000 on 10-19
    con = connect(db)
    assert con.execute("""select s.amount from opportunity_snapshots s join opportunities o
                          using (opportunity_id) where o.name = 'D1'
                          and snapshot_date = '2026-10-19'""").fetchall() == [
        (Decimal("100000.00"),)]
    assert display_factor(con, "GBP", NEXT) == Decimal("0.625")
    assert len({r.iso_code for r in load_rates(con).rates}) == 4
    con.close()
    # report --currency GBP: every amount × 0.625 GBP per USD (GBP's rate from 2026-10-01 on)
    capsys.readouterr()
    assert cli.main(["report", "--db", str(db), "--as-of", NEXT.isoformat(),
                     "--currency", "GBP"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["currency"] == "GBP"
    # Commit now: 155,000 USD × 0.625 = 96,875 GBP
    assert shown["categories"]["Commit"]["amount"] == 96_875
    assert cli.main(["report", "--db", str(db), "--currency", "JPY"]) == 2
    assert "no rate for JPY" in capsys.readouterr().err


EXPORT = ["Opportunity ID", "Opportunity Name", "Stage", "Forecast Category", "Amount",
          "Opportunity Currency", "Amount (converted)", "Close Date", "Opportunity Owner"]


def _export(converted: bool) -> bytes:
    lines = [",".join(EXPORT if converted else [h for h in EXPORT if "urrenc" not in h
                                                and "converted" not in h])]
    for n, (key, (code, amount, stage, category, close, usd)) in enumerate(DEALS.items(), 1):
        cells = [f"006D{n:014d}", key, stage, category]
        cells += [f"{amount:.2f}", code, f"{usd:.2f}"] if converted else [f"{usd:.2f}"]
        lines.append(",".join([*cells, close, "Ana Ortiz"]))
    return "\n".join(lines).encode()


def test_an_export_with_the_converted_column_reports_as_usd(tmp_path):
    multi, usd = tmp_path / "multi.duckdb", tmp_path / "usd.duckdb"
    for db, converted in ((multi, True), (usd, False)):
        run_import(db, ImportRequest([read_bytes("Opportunities.csv", _export(converted))],
                                     as_of=AS_OF))
    assert report(multi) == report(usd)
    con = connect(multi)
    assert con.execute("select amount, amount_original, currency from opportunities "
                       "where name = 'D3'").fetchall() == [
        (Decimal("80000.00"), Decimal("50000.00"), "GBP")]
    con.close()


def test_a_rate_of_zero_or_a_deal_without_a_rate_stops_the_sync(org, tmp_path, capsys):  # noqa: F811
    multi_currency(org)
    org.currencies = [dict(c, ConversionRate=0.0) if c["IsoCode"] == "CAD" else c
                      for c in CURRENCIES]
    db = tmp_path / "multi.duckdb"
    assert sync(db, "--as-of", AS_OF.isoformat()) == 1
    assert "the rate of CAD" in capsys.readouterr().err and not db.exists()
    # a deal in a currency the org has no rate for (JPY): refused, naming it
    org.currencies = CURRENCIES
    org.opportunities[0]["CurrencyIsoCode"] = "JPY"
    assert sync(db, "--as-of", AS_OF.isoformat()) == 1
    assert "amount in JPY, which has no rate" in capsys.readouterr().err and not db.exists()
