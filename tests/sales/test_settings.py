"""Settings are declared once (the `Settings` dataclass), each documented, typed, validated on
save, and shown on the settings page."""

from dataclasses import FrozenInstanceError, replace

import pytest
from streamlit.testing.v1 import AppTest

from sales.catalog import settings_frame
from sales.db import connect
from sales.settings import SETTINGS, Settings, load_settings, save_setting
from tests.helpers import ROOT

README = ROOT / "README.md"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_help_and_is_in_the_readme(setting):
    assert len(setting.help) > 20
    assert f"`{setting.name}`" in README.read_text()


def test_defaults_then_saved_values(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    values = load_settings(con)
    assert values.fiscal_year_start_month == 1 and values.coverage_multiple == 3.0
    assert values.inblood_include_commit is True
    save_setting(con, "coverage_multiple", 3.5)
    save_setting(con, "inblood_include_best_case", True)
    assert load_settings(con).coverage_multiple == 3.5
    assert load_settings(con).inblood_include_best_case is True


def test_a_misspelt_setting_is_an_error_and_settings_cannot_be_changed_in_place():
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.coverag_multiple  # noqa: B018 — reading it is the test
    with pytest.raises(FrozenInstanceError):
        settings.coverage_multiple = 4.0
    with pytest.raises(TypeError):
        replace(settings, coverag_multiple=4.0)
    # An override is a new value; the one it came from is untouched.
    assert replace(settings, history_periods=2).history_periods == 2
    assert settings.history_periods == 4


def test_types_come_from_the_declaration(tmp_path):
    assert {s.name: s.type for s in SETTINGS if s.name in {
        "fiscal_year_start_month", "coverage_multiple", "rep_capacity", "inblood_include_commit",
        "smb_method_segments"}} == {
        "fiscal_year_start_month": int, "coverage_multiple": float, "rep_capacity": int,
        "inblood_include_commit": bool, "smb_method_segments": str}
    con = connect(tmp_path / "s.duckdb")
    # Stored as text, read back as the declared type: "4" is the float 4.0, "yes" is True.
    con.executemany("insert into settings values (?, ?)", [
        ["coverage_multiple", "4"], ["rep_capacity", "35"], ["inblood_include_pipeline", "yes"],
        ["smb_method_segments", "SMB, Mid-Market"]])
    loaded = load_settings(con)
    assert (loaded.coverage_multiple, loaded.rep_capacity, loaded.inblood_include_pipeline,
            loaded.smb_method_segments) == (4.0, 35, True, "SMB, Mid-Market")
    for setting in SETTINGS:
        assert type(getattr(loaded, setting.name)) is setting.type, setting.name


def test_a_bad_stored_value_falls_back_to_the_default(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    # Hand-edited rows: three that do not parse, one name no longer declared, one good value.
    con.executemany("insert into settings values (?, ?)", [
        ["coverage_multiple", "lots"], ["inblood_include_commit", "maybe"],
        ["history_periods", "2.5"], ["retired_setting", "1"], ["win_rate_floor", "0.4"]])
    assert load_settings(con) == Settings(win_rate_floor=0.4)


def test_saved_settings_round_trip_in_the_stored_text_format(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    chosen = Settings(fiscal_year_start_month=2, coverage_multiple=2.5, rep_capacity=30,
                      inblood_include_best_case=True, smb_method_segments="SMB,Mid-Market")
    changed = {s.name: getattr(chosen, s.name) for s in SETTINGS
               if getattr(chosen, s.name) != s.default}
    for name, value in changed.items():
        save_setting(con, name, value)
    assert load_settings(con) == chosen
    # The table keeps (name, value text), as databases saved before hold them.
    assert dict(con.execute("select name, value from settings").fetchall()) == {
        "fiscal_year_start_month": "2", "coverage_multiple": "2.5", "rep_capacity": "30",
        "inblood_include_best_case": "true", "smb_method_segments": "SMB,Mid-Market"}


@pytest.mark.parametrize("name, value, message", [
    ("fiscal_year_start_month", 13, "between 1 and 12"),
    ("coverage_multiple", "lots", "could not convert|invalid"),
    ("inblood_include_commit", "maybe", "true or false"),
    ("no_such_setting", 1, "unknown setting .*coverage_multiple"),
])
def test_bad_values_are_refused_and_change_nothing(tmp_path, name, value, message):
    con = connect(tmp_path / "s.duckdb")
    with pytest.raises(ValueError, match=message):
        save_setting(con, name, value)
    assert con.execute("select count(*) from settings").fetchone()[0] == 0


def test_every_declared_setting_is_on_the_settings_page_and_the_database_page(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    con = connect(path)
    save_setting(con, "rep_capacity", 30)
    assert list(settings_frame(con)["setting"]) == [s.name for s in SETTINGS]
    assert settings_frame(con).set_index("setting").loc["rep_capacity", "value"] == "30"
    con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "pages" / "data_settings.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    widgets = {"bool": at.checkbox, "int": at.number_input, "float": at.number_input,
               "str": at.text_input}
    for setting in SETTINGS:
        # Each setting has the input its declared type asks for, and its help under it.
        keys = [w.key for w in widgets[setting.type.__name__]]
        assert any(k.startswith(f"setting_{setting.name}_") for k in keys), setting.name
        assert setting.help in [c.value for c in at.caption], setting.name
    rep_capacity = next(w for w in at.number_input if w.key.startswith("setting_rep_capacity_"))
    assert rep_capacity.value == 30  # the stored value, not the default 40
