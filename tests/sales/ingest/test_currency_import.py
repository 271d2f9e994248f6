"""Currencies on the way in (docs/import.md#currencies): rate files, exports with a currency
column, the refusals that write nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sales.cli import main
from sales.db import connect
from sales.ingest import ImportRejected, ImportRequest, read_bytes
from sales.ingest.headers import CURRENCY_RATES, detect_kind
from sales.ingest.run import run_import

AS_OF = date(2026, 11, 20)
# EUR: 0.90 per USD until 2026-10-01, 0.80 after; GBP: static 0.625.
RATES = b"""iso_code,start_date,rate
EUR,0001-01-01,0.90
EUR,2026-10-01,0.80
GBP,,0.625
"""
EXPORT = b"""Opportunity ID,Stage,Amount,Opportunity Currency,Close Date,Opportunity Owner
A,4-Proposal,"80,000.00",EUR,2026-12-15,Ann
B,4-Proposal,"9,000.00",EUR,2026-09-15,Ann
C,4-Proposal,"50,000.00",GBP,2026-12-01,Bob
D,4-Proposal,"30,000.00",USD,2026-12-01,Bob
"""


def _import(db, name: str, data: bytes, kind: str | None = None):
    return run_import(db, ImportRequest([read_bytes(name, data)], kind=kind, as_of=AS_OF))


def test_a_rate_file_then_an_export_in_euros(tmp_path):
    db = tmp_path / "c.duckdb"
    assert detect_kind(["iso_code", "start_date", "rate"]) == CURRENCY_RATES
    _import(db, "rates.csv", RATES)
    _import(db, "deals.csv", EXPORT)
    con = connect(db)
    got = {r[0]: r[1:] for r in con.execute(
        "select opportunity_id, amount, amount_original, currency from opportunities").fetchall()}
    # A: 80,000 / 0.80 = 100,000; B closes before 2026-10-01: 9,000 / 0.90 = 10,000;
    # C: 50,000 / 0.625 = 80,000; D is corporate.
    assert got == {"A": (Decimal("100000.00"), Decimal("80000.00"), "EUR"),
                   "B": (Decimal("10000.00"), Decimal("9000.00"), "EUR"),
                   "C": (Decimal("80000.00"), Decimal("50000.00"), "GBP"),
                   "D": (Decimal("30000.00"), Decimal("30000.00"), "USD")}
    # the snapshot keeps the converted amounts and the originals
    assert con.execute("select sum(amount), sum(amount_original) from opportunity_snapshots"
                       ).fetchall() == [(Decimal("220000.00"), Decimal("169000.00"))]
    con.close()
    # A later file without a currency column is corporate, and the report says so.
    result = _import(db, "usd.csv", b"Opportunity ID,Stage,Amount,Close Date\n"
                                    b"A,4-Proposal,100,2026-12-15\n")
    warned = [w for w in result.warnings if w.code == "no_currency_column"]
    assert warned and "read as USD" in warned[0].reason and "EUR, GBP" in warned[0].reason


def test_a_currency_without_a_rate_is_refused_and_nothing_written(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    with pytest.raises(ImportRejected) as refused:
        _import(db, "deals.csv", EXPORT)
    errors = {f.code: f for f in refused.value.plan.findings.errors}
    # EUR and GBP have no rate (USD is corporate): one error each, naming the currency
    assert sorted(f.reason for f in refused.value.plan.findings.errors if f.code == "no_rate") == [
        "amount in EUR, which has no rate (and no converted amount)",
        "amount in GBP, which has no rate (and no converted amount)"]
    assert errors["no_rate"].count in (1, 2)
    assert not db.exists()
    # a rate of 0 or below is refused with the row, and nothing is written
    assert main(["import", "--db", str(db), str(_file(tmp_path, "bad.csv",
                                                     b"iso_code,start_date,rate\nEUR,,0\n"))]) == 1
    assert "the rate is not a number above 0" in capsys.readouterr().err
    assert not db.exists()


def test_a_converted_column_is_enough(tmp_path):
    db = tmp_path / "c.duckdb"
    _import(db, "deals.csv", b"Opportunity ID,Stage,Amount,Amount Currency,Amount (converted),"
                             b"Close Date\nA,4-Proposal,80000,EUR,100000.00,2026-12-15\n")
    con = connect(db)
    assert con.execute("select amount, amount_original, currency from opportunities"
                       ).fetchall() == [(Decimal("100000.00"), Decimal("80000.00"), "EUR")]
    con.close()


def _file(folder, name: str, data: bytes):
    path = folder / name
    path.write_bytes(data)
    return path
