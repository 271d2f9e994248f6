"""Foreign and hostile input: amounts in every number format read as written or
refused, repeated headers, encodings, files that are not tables, and dates outside the range we
accept. Each case imports a real file into a real database, as a user would."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sales.cli import main
from sales.ingest import ReadError, parse_mapping, read_bytes
from sales.ingest.values import parse_amounts
from tests.helpers import FIXTURES, ROOT, content

AS_OF = "2026-11-20"


def run_cli(capsys, tmp_path: Path, name: str, data: bytes | str, mapping: str | None = None,
            *extra: str) -> tuple[int, str, str]:
    """Import one file into tmp_path/t.duckdb; returns (exit status, stdout, stderr)."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    argv = ["import", str(path), "--db", str(tmp_path / "t.duckdb"), "--as-of", AS_OF, *extra]
    if mapping is not None:
        (tmp_path / "m.toml").write_text(mapping)
        argv += ["--mapping", str(tmp_path / "m.toml")]
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored(tmp_path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def amounts(tmp_path: Path) -> dict[str, float]:
    return {i: float(a) for i, a in stored(tmp_path, "select opportunity_id, amount "
                                                     "from opportunities")}


# --- 1. amounts in every number format --------------------------------------------------------


def test_a_semicolon_export_with_decimal_commas_reads_every_amount_as_written(tmp_path, capsys):
    # The reproduction: `83500,00` was read as 8,350,000 (every amount ×100).
    frame = pd.read_csv(FIXTURES / "opportunities.csv", dtype=str, keep_default_na=False)
    frame["amount"] = frame["amount"] + ",00"
    european = tmp_path / "european.csv"
    frame.to_csv(european, sep=";", index=False)
    plain = tmp_path / "plain.duckdb"
    assert main(["import", str(FIXTURES / "opportunities.csv"), "--db", str(plain),
                 "--as-of", AS_OF]) == 0
    assert main(["import", str(european), "--db", str(tmp_path / "t.duckdb"),
                 "--as-of", AS_OF]) == 0
    capsys.readouterr()
    assert content(tmp_path / "t.duckdb")["opportunities"] == content(plain)["opportunities"]
    assert amounts(tmp_path)["O1"] == 500.0


@pytest.mark.parametrize("written, value", [
    ("1,234.50", 1234.5), ("1.234,50", 1234.5), ("1 234,50", 1234.5), ("83500,00", 83500.0),
    ("$1,234", 1234.0), ("€1.234", 1234.0), ("1.234.567", 1234567.0), ("12,5", 12.5),
    ("1'234.50", 1234.5), ("EUR 1.234,50", 1234.5), ("(1.234,50)", -1234.5),
])
def test_each_number_format_reads_as_written(written, value):
    # Each value alone settles its column's format (a currency sign marks formatted money,
    # whose three digits after a separator are thousands).
    parsed, bad = parse_amounts(pd.Series([written]))
    assert parsed.iloc[0] == value and not bad.any()


@pytest.mark.parametrize("written", ["1,234", "1.234"])
def test_a_column_that_reads_either_way_is_refused_naming_the_fix(tmp_path, capsys, written):
    data = f"opportunity_id;stage;amount\nA;4-Proposal;{written}\nB;4-Proposal;500\n"
    code, _, err = run_cli(capsys, tmp_path, "ambiguous.csv", data)
    assert code == 1
    assert "ambiguous.csv, column amount" in err and f'"{written}"' in err
    assert '[format]\ndecimal = ","' in err.replace("  fix: ", "").replace("       ", "")
    assert not (tmp_path / "t.duckdb").exists() or not stored(
        tmp_path, "select * from opportunities")


@pytest.mark.parametrize("mapping, written, value", [
    ('[format]\ndecimal = ","', "1.234", 1234.0),
    ('[format]\ndecimal = "."', "1,234", 1234.0),
    ('[format]\ndecimal = "."', "1.234", 1.23),  # stored to the cent
    ('decimal = ","', "1.234", 1234.0),  # the top-level spelling documented first still works
])
def test_the_mapping_file_settles_the_format(tmp_path, capsys, mapping, written, value):
    data = f"opportunity_id;stage;amount\nA;4-Proposal;{written}\n"
    code, _, err = run_cli(capsys, tmp_path, "settled.csv", data, mapping)
    assert code == 0, err
    assert amounts(tmp_path) == {"A": value}


def test_a_value_against_the_files_format_is_refused_never_scaled(tmp_path, capsys):
    # With the format given as a decimal point, 83500,00 is not 8,350,000: it is refused.
    data = "opportunity_id;stage;amount\nA;4-Proposal;83500,00\nB;4-Proposal;1.5\n"
    code, _, err = run_cli(capsys, tmp_path, "mixed.csv", data, '[format]\ndecimal = "."')
    assert code == 1 and "row 2: '83500,00'" in err and "not an amount" in err
    # Without a declared format the majority decides, and the odd one out is refused.
    data = ("opportunity_id;stage;amount\nA;4-Proposal;1.234,50\nB;4-Proposal;2.000,00\n"
            "C;4-Proposal;1,234.50\n")
    code, _, err = run_cli(capsys, tmp_path, "mixed.csv", data)
    assert code == 1 and "row 4: '1,234.50'" in err and "decimal comma" in err


def test_a_mapping_with_two_different_decimals_is_refused():
    from sales.ingest import MappingError

    with pytest.raises(MappingError, match="decimal"):
        parse_mapping('decimal = ","\n[format]\ndecimal = "."')
    assert parse_mapping('[format]\ndecimal = ","\ndate_format = "%d.%m.%Y"').date_format == \
        "%d.%m.%Y"


def test_targets_and_employees_follow_the_files_format(tmp_path, capsys):
    data = ("opportunity_id;stage;amount;account_employees\n"
            "A;4-Proposal;12.500,00;1.200\nB;4-Proposal;900,50;40\n")
    code, _, err = run_cli(capsys, tmp_path, "eu.csv", data)
    assert code == 0, err
    assert stored(tmp_path, "select opportunity_id, amount::double, account_employees "
                            "from opportunities order by 1") == [("A", 12500.0, 1200),
                                                                  ("B", 900.5, 40)]
    targets = "period;scope;scope_value;amount\nFY2026-Q4;company;;1.250.000,00\n"
    code, _, err = run_cli(capsys, tmp_path, "targets.csv", targets)
    assert code == 0, err
    assert stored(tmp_path, "select amount::double from targets") == [(1250000.0,)]


# --- 2. repeated headers -----------------------------------------------------------------------


def test_a_repeated_header_is_an_error_naming_both_columns(tmp_path, capsys):
    # The reproduction: with `stage` twice the first won, and every deal became Closed Won.
    data = ("opportunity_id,stage,amount,close_date,stage\n"
            "A,7-Closed Won,100,2026-10-01,1-Discovery\nB,7-Closed Won,200,2026-10-02,4-Proposal\n")
    code, _, err = run_cli(capsys, tmp_path, "twice.csv", data)
    assert code == 1
    assert "twice.csv" in err and '"stage (column 2)"' in err and '"stage (column 5)"' in err
    assert not (tmp_path / "t.duckdb").exists() or not stored(
        tmp_path, "select * from opportunities")
    # The mapping file picks one.
    code, _, err = run_cli(capsys, tmp_path, "twice.csv", data,
                           '[columns]\nstage = "stage (column 5)"')
    assert code == 0, err
    assert stored(tmp_path, "select opportunity_id, stage from opportunities order by 1") == [
        ("A", "1-Discovery"), ("B", "4-Proposal")]


def test_headers_that_are_the_same_after_normalising_are_an_error(tmp_path, capsys):
    data = ("opportunity_id,Close Date,stage,close_date\n"
            "A,2026-12-01,4-Proposal,2027-01-15\n")
    code, _, err = run_cli(capsys, tmp_path, "dates.csv", data)
    assert code == 1 and '"Close Date"' in err and '"close_date"' in err
    code, _, err = run_cli(capsys, tmp_path, "dates.csv", data,
                           '[columns]\nclose_date = "close_date"')
    assert code == 0, err
    assert stored(tmp_path, "select close_date::varchar from opportunities") == [("2027-01-15",)]


def test_repeated_headers_the_import_does_not_use_are_left_alone(tmp_path, capsys):
    data = "opportunity_id,stage,amount,notes,notes\nA,4-Proposal,100,x,y\n"
    code, out, err = run_cli(capsys, tmp_path, "notes.csv", data)
    assert code == 0, err
    assert "not used: notes (column 4), notes (column 5)" in out


# --- 3. encodings --------------------------------------------------------------------------------


def test_a_utf8_file_with_one_stray_byte_is_not_read_as_cp1252(tmp_path, capsys):
    # The reproduction: "Zürich" was stored as "ZÃ¼rich".
    data = ("opportunity_id,stage,amount,account_name,next_step\n"
            "A,4-Proposal,100,Zürich AG,call\nB,4-Proposal,200,Köln GmbH,").encode() + \
        b"send \xff quote\n"
    code, out, err = run_cli(capsys, tmp_path, "stray.csv", data)
    assert code == 0, err
    assert stored(tmp_path, "select opportunity_id, account_name, next_step from opportunities "
                            "order by 1") == [("A", "Zürich AG", "call"),
                                              ("B", "Köln GmbH", "send \ufffd quote")]
    # The validation report says how many bytes were replaced, and where.
    assert "1 byte that is not UTF-8" in out and "line 3" in out
    assert "stray.csv, column next_step" in out and "row 3" in out


def test_a_windows_1252_file_is_read_whole_as_windows_1252(tmp_path, capsys):
    data = "opportunity_id,stage,amount,account_name\nA,4-Proposal,100,Zürich – Café\n"
    code, out, err = run_cli(capsys, tmp_path, "legacy.csv", data.encode("cp1252"))
    assert code == 0, err
    assert "read as Windows-1252" in out
    assert stored(tmp_path, "select account_name from opportunities") == [("Zürich – Café",)]


def test_utf16_from_excel_reads_like_utf8():
    text = "opportunity_id\tstage\taccount_name\nA\t4-Proposal\tZürich\n"
    source = read_bytes("unicode.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    assert source.frame.to_dict("records") == [
        {"opportunity_id": "A", "stage": "4-Proposal", "account_name": "Zürich"}]


# --- 4. files that are not tables ---------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 40,
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 5 /Filter /FlateDecode >>\nstream\n"
    + bytes(range(256)) * 40,
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4,
])
def test_a_binary_file_renamed_csv_says_so_in_one_line(tmp_path, capsys, data):
    code, out, err = run_cli(capsys, tmp_path, "photo.csv", data)
    message = [line for line in err.splitlines() if not line.startswith("[")]  # progress bar
    assert code == 2 and not out.strip()
    assert len(message) == 1 and "photo.csv is not a CSV or Excel file" in message[0]
    assert not (tmp_path / "t.duckdb").exists()
    with pytest.raises(ReadError, match="not a CSV or Excel file"):
        read_bytes("upload.xlsx", data)


# --- 8. dates outside the years we accept -------------------------------------------------------


def test_a_date_outside_1900_2200_is_refused_saying_the_range(tmp_path, capsys):
    data = ("opportunity_id,stage,amount,close_date\nA,4-Proposal,100,1850-03-01\n"
            "B,4-Proposal,100,2026-12-01\nC,4-Proposal,100,someday\n")
    code, _, err = run_cli(capsys, tmp_path, "old.csv", data)
    assert code == 1
    assert re.search(r"close_date: the date is outside the years 1900–2200 — 1 row\n"
                     r"    row 2: '1850-03-01'", err)
    # A value that is not a date at all keeps its own message.
    assert re.search(r"close_date: not a date we can read — 1 row\n    row 4: 'someday'", err)


# --- where users meet it ------------------------------------------------------------------------


def test_the_readmes_mapping_example_parses_with_its_format_table():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("- **Mapping file**")[1].split("\n\n", 2)[1]
    mapping = parse_mapping("\n".join(line[6:] for line in block.splitlines()))
    assert mapping.decimal == "," and mapping.date_format == "%d/%m/%Y"
    assert mapping.column_map["amount"] == "close_value"


@pytest.mark.slow
def test_the_import_page_refuses_a_binary_file_in_one_line(tmp_path, monkeypatch):
    from tests.helpers import page, plain, upload

    database = tmp_path / "empty.duckdb"
    monkeypatch.setenv("SALES_DB", str(database))
    photo = tmp_path / "photo.csv"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    at = upload(page("data_import.py"), photo)
    assert not at.exception
    errors = [plain(e.value) for e in at.error]  # shown as text (escaped Markdown)
    assert errors == ["The files could not be read: photo.csv is not a CSV or Excel file (it "
                      "holds binary data, not text); export the data as CSV or XLSX and retry"]
