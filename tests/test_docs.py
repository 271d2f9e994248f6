"""docs/ stays tied to the code: its links resolve, the functions it names exist, and the anchors
code comments cite are headings. Text only, no database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOC_FILES = sorted(DOCS.glob("*.md"))
_SKIPPED_DIRS = {".venv", ".git", "node_modules", "data"}

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
# A link to code names what it points at as `path` `name` (a function, class or constant).
_NAMED = re.compile(r"^`([^`]+\.py)` `([\w.]+)`$")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
# A citation of a docs page from code or the README: docs/metrics.md#6-slippage-adjusted-close-rate
_CITED = re.compile(r"docs/([\w-]+\.md)#([\w-]+)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, a repeated heading numbered as GitHub does."""
    found: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        base, n = slug(heading), 0
        name = base
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def defines(source: str, name: str) -> bool:
    """Whether a Python source defines `name` (a dotted name: each part, e.g. a class's method)."""
    return all(re.search(rf"^\s*(?:async\s+def|def|class)\s+{re.escape(part)}\b"
                         rf"|^\s*{re.escape(part)}\s*(?::[^=\n]+)?=", source, re.M)
               for part in name.split("."))


def links(path: Path) -> list[tuple[str, str]]:
    return _LINK.findall(_FENCE.sub("", path.read_text(encoding="utf-8")))


def python_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py")
            if not _SKIPPED_DIRS & set(p.relative_to(ROOT).parts) and p != Path(__file__)]


def test_the_slug_rule_matches_githubs():
    assert slug("6. Slippage-adjusted close rate") == "6-slippage-adjusted-close-rate"
    assert slug("Calls, submissions, settings and the rest") == "calls-submissions-settings-and-the-rest"
    assert slug("The one rule: all or nothing") == "the-one-rule-all-or-nothing"
    assert slug("How `bench` measures") == "how-bench-measures"


def test_there_are_docs_to_check():
    assert {p.name for p in DOC_FILES} >= {"README.md", "metrics.md", "data-model.md", "import.md",
                                           "budgets.md"}


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc):
    broken = []
    for text, target in links(doc):
        if re.match(r"^[a-z]+:", target):
            continue  # a web address
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading with that anchor")
        named = _NAMED.match(text)
        if named:
            shown, name = named.groups()
            if (ROOT / shown).resolve() != path:
                broken.append(f"[{text}] shows {shown} but links to {file_part}")
            elif not defines(path.read_text(encoding="utf-8"), name):
                broken.append(f"[{text}]: {name} is not defined in {shown}")
    assert not broken, "\n".join(broken)


def test_every_cited_anchor_exists():
    """Comments in the code (and the README) cite definitions as docs/FILE.md#anchor."""
    broken = []
    for path in [*python_files(), ROOT / "README.md"]:
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for doc, anchor in _CITED.findall(line):
                target = DOCS / doc
                if not target.exists() or anchor not in anchors(target):
                    broken.append(f"{path.relative_to(ROOT)}:{line_no}: docs/{doc}#{anchor}")
    assert not broken, "\n".join(broken)


def test_no_comment_cites_the_numbered_spec():
    """The spec the numbers came from is not in the repository; docs/ is."""
    old = re.compile(r"\bSPEC\b")
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in python_files()
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if old.search(line)]
    assert not found, "\n".join(found)
