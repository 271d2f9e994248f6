"""How the deals lie in the file: in close-date order, so a period's questions skip the rest.

Nearly every question is about deals closing in a period, and DuckDB keeps the smallest and
largest close date of each row group (about 122,000 rows): a query for one quarter skips every
row group whose range misses it. Deals written in close-date order (the demo and every import
write them so, `sales.ingest.opportunities`) give a million deals nine row groups of a few months
each, and a quarter's query reads two of them. A database written before that, or one whose
deals have been moved about by many imports, has row groups that each span years, and every
query reads them all: at a million deals the Forecast call's re-render took 0.54 s instead of
0.39 s (bench.apptest).

An import or a CRM sync, which build a new copy of the file anyway, look at the row groups'
ranges and lay the deals out again when they are scattered (`settle`): once, about 17 s at a
million deals, on the copy being built, before anyone reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import duckdb

from sales import precomputed
from sales.db import transaction

# Laid out again when the row groups' close-date ranges average more than twice what n row
# groups in close-date order cover (1/n of the whole range each), and more than 0.3 of it: a
# million deals written by id average 0.55 (nine row groups), in close-date order 0.11.
SCATTERED_TIMES = 2
SCATTERED_FLOOR = 0.3


def span_share(con: duckdb.DuckDBPyConnection) -> tuple[float, int] | None:
    """The row groups' close-date ranges, on average, as a share of the whole table's, and how
    many row groups there are (None with fewer than two: nothing to skip)."""
    rows = con.cursor().execute(
        """select min(stats.min::date), max(stats.max::date)
           from pragma_storage_info('opportunities')
           where column_name = 'close_date' and segment_type = 'DATE'
           group by row_group_id""").fetchall()
    ranges = [(low, high) for low, high in rows if low is not None and high is not None]
    if len(ranges) < 2:
        return None
    whole = (max(h for _, h in ranges) - min(lo for lo, _ in ranges)).days
    if whole <= 0:
        return None
    return sum((high - low).days for low, high in ranges) / len(ranges) / whole, len(ranges)


def scattered(con: duckdb.DuckDBPyConnection) -> bool:
    found = span_share(con)
    if found is None:
        return False
    share, groups = found
    return share > max(SCATTERED_TIMES / groups, SCATTERED_FLOOR)


def lay_out(con: duckdb.DuckDBPyConnection) -> None:
    """Write the deals again in close-date order, in one transaction (the same rows)."""
    with closing(con.cursor()) as cur, transaction(cur):
        cur.execute("""create temp table laid_out as
                       select * from opportunities order by close_date, opportunity_id""")
        cur.execute("delete from opportunities")
        cur.execute("insert into opportunities select * from laid_out")
        cur.execute("drop table laid_out")
    # The old row groups, every row deleted, still count (and are read) until a checkpoint
    # drops them.
    con.execute("checkpoint")


def settle(con: duckdb.DuckDBPyConnection, progress: Callable[[str], None] | None = None
           ) -> None:
    """What an import or a sync leaves on the copy it built, before the swap: the deals laid out
    by close date again when they are scattered, then the default view's intermediates
    (`sales.precomputed.refresh`)."""
    if scattered(con):
        if progress:
            progress("laying the deals out by close date (once)")
        lay_out(con)
    precomputed.refresh(con, progress)
