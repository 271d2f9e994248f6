"""Settings are declared once, each documented, and validated on save."""


import pytest

from sales.db import connect
from sales.settings import SETTINGS, load_settings, save_setting
from tests.helpers import ROOT

README = ROOT / "README.md"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_help_and_is_in_the_readme(setting):
    assert len(setting.help) > 20
    assert f"`{setting.name}`" in README.read_text()


def test_defaults_then_saved_values(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    values = load_settings(con)
    assert values["fiscal_year_start_month"] == 1 and values["coverage_multiple"] == 3.0
    assert values["inblood_include_commit"] is True
    save_setting(con, "coverage_multiple", 3.5)
    save_setting(con, "inblood_include_best_case", True)
    assert load_settings(con)["coverage_multiple"] == 3.5
    assert load_settings(con)["inblood_include_best_case"] is True


@pytest.mark.parametrize("name, value, message", [
    ("fiscal_year_start_month", 13, "between 1 and 12"),
    ("coverage_multiple", "lots", "could not convert|invalid"),
    ("inblood_include_commit", "maybe", "true or false"),
    ("no_such_setting", 1, "unknown setting"),
])
def test_bad_values_are_refused_and_change_nothing(tmp_path, name, value, message):
    con = connect(tmp_path / "s.duckdb")
    with pytest.raises(ValueError, match=message):
        save_setting(con, name, value)
    assert con.execute("select count(*) from settings").fetchone()[0] == 0
