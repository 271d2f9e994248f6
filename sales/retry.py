"""One call to an outside server (a CRM's API, an SMTP relay, a Slack webhook), retried while the
server is loaded or unreachable, then translated into the caller's own error that says what to
fix: the same loop for every server this product talks to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def call_with_retries(call: Callable[[], T], *, delays: Sequence[float],
                      retryable: Callable[[Exception], bool],
                      translate: Callable[[Exception], Exception],
                      sleep: Callable[[float], None],
                      catch: tuple[type[Exception], ...] = (Exception,),
                      on_retry: Callable[[], None] = lambda: None,
                      exhausted: Callable[[Exception, int], Exception] | None = None) -> T:
    """`call()`'s answer. An error of a `catch` class is retried after each of `delays` while
    `retryable` says so; otherwise it is raised as `translate(error)`, and once the delays are
    spent as `exhausted(error, tries)` (default: `translate(error)`)."""
    for attempt in range(len(delays) + 1):
        try:
            return call()
        except catch as error:
            if not retryable(error):
                raise translate(error) from None
            if attempt == len(delays):
                give_up = exhausted(error, attempt + 1) if exhausted else translate(error)
                raise give_up from None
        on_retry()
        sleep(delays[attempt])
    raise AssertionError("unreachable")
