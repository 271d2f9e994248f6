"""One connection per process, a cursor per query: concurrent readers get the same numbers."""

from concurrent.futures import ThreadPoolExecutor

from sales.periods import parse_period
from sales.report import build_report
from sales.view import View
from tests.helpers import d


def test_threads_sharing_one_connection_agree(metrics_con):
    view = View(parse_period("FY2026-Q4"), d("2026-11-20"))
    expected = build_report(metrics_con, view)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: build_report(metrics_con, view), range(32)))
    assert all(r == expected for r in results)
