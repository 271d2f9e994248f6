"""Composable SQL: a statement's text with its named parameters.

Metrics are built from shared pieces (the deals relation, the view's filters, a period's
bounds), each with values of its own. With positional `?` the values have to be listed in the
order their placeholders happen to appear in the final text, which drifts silently as the text
changes. Each piece here carries its values by name (`$period_start`), and composing pieces
merges the names: the same name bound to two different values is an error at once, not a wrong
number later. DuckDB refuses a statement with a name left unbound or a value left unused, so a
value can neither go missing nor ride along by accident.

    deals = deals_sql(snapshot, filters)
    query = sql(f"select sum(amount) from ({deals}) where close_date <= $day", deals, day=day)
    con.cursor().execute(*query)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class Sql(NamedTuple):
    """SQL text with `$name` placeholders and the values they take; `execute(*query)` runs it,
    and an f-string embeds its text."""

    text: str
    params: Mapping[str, object]

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return self.text


def sql(text: str, *parts: Sql, **values: object) -> Sql:
    """`text` (which embeds `parts`) with the parameters of every part and `values` merged."""
    merged: dict[str, object] = {}
    for source in (*(p.params for p in parts), values):
        for name, value in source.items():
            _bind(merged, name, value)
    return Sql(text, merged)


def _bind(params: dict[str, object], name: str, value: object) -> None:
    if not _NAME.match(name):
        raise ValueError(f"parameter name {name!r} is not a lowercase identifier")
    if name in params and not _same(params[name], value):
        raise ValueError(f"parameter ${name} is bound to two values: {params[name]!r} and {value!r}")
    params[name] = value


def _same(a: object, b: object) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return type(a) is type(b) and a == b


def rows_sql(name: str, rows: list[dict[str, object]]) -> Sql:
    """An inline table of `rows` (dicts with the same keys, in the same order), bound as one
    parameter `$name`: `select ... from {rows_sql("periods", rows)} p`. Column types follow the
    Python values (cast in the query where a column may be all null); at least one row."""
    if not rows:
        raise ValueError(f"{name}: an inline table needs at least one row")
    return Sql(f"(select unnest(${name}, recursive := true))", {name: rows})
