"""Text from data and from users shows as text (a CRM value is not trusted markup): no
Markdown, HTML, link or directive from a value reaches a caption, a banner or a chart."""

import re

import pytest

from sales import formatting as fmt
from tests.cases.hostile import HOSTILE
from tests.cases.hostile import build as build_hostile
from tests.helpers import run_page


@pytest.mark.parametrize("raw", [HOSTILE, "`code` # heading", "a|b", ":material/home:",
                                 "line one\n- line two", "mail ceo@evil.example or www.evil.example",
                                 "&lt;b&gt; stays &amp;"])
def test_markdown_text_escapes_every_marker(raw):
    shown = fmt.text(raw)
    # Every character that starts Markdown, HTML or a formula has its backslash; a colon, an
    # at-sign and "www" are followed by a word joiner, so no address or icon is recognised.
    assert re.search(r"(?<!\\)[*_\[\]()<>$`#|~!-]", shown) is None, shown
    assert re.search(r"[:@](?!\u2060)|www\\\.", shown) is None, shown
    # The same text, on one line, once Markdown has read the escapes.
    assert re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "") == " ".join(raw.split())


def test_chart_text_shows_tags_as_characters():
    assert fmt.chart_text('<a href="https://evil.example">x</a> & co') == (
        '&lt;a href="https://evil.example"&gt;x&lt;/a&gt; &amp; co')




@pytest.fixture
def hostile_db(tmp_path):
    return build_hostile(tmp_path)


def _markdown_shown(at) -> list[str]:
    return [e.value for kind in ("caption", "info", "warning", "success", "error", "markdown")
            for e in getattr(at, kind)]


def test_an_owner_picked_as_a_filter_is_text_in_the_caption(hostile_db, monkeypatch):
    at = run_page("overview.py", hostile_db, monkeypatch, owner=[HOSTILE])
    shown = " ".join(_markdown_shown(at))
    assert fmt.text(HOSTILE) in shown
    assert "[y](https://evil.example)" not in shown and "**x**" not in shown


def test_a_saved_calls_name_and_note_are_text_in_the_banner(hostile_db, monkeypatch):
    at = run_page("inblood.py", hostile_db, monkeypatch)
    banner = next(i.value for i in at.info if "Starting from the call saved" in i.value)
    assert "](https://evil.example)" not in banner and "**urgent**" not in banner
    assert "<script>" not in banner
    assert fmt.text("[click me](https://evil.example)") in banner
