"""One API call to a CRM, retried while the CRM is loaded or unreachable, then translated into
a `SyncError` that says what to fix: the same waits and the same give-up for every CRM."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sales.crm.sync import SyncError

# Waits before each retry of a call the CRM refused for load (a rate limit, a 5xx) or could not
# be reached for (a dropped connection): about a minute in all before the sync gives up and
# says so. Read at each call, so a test can shorten them.
RETRY_DELAYS_S = (2.0, 4.0, 8.0, 16.0, 32.0)

T = TypeVar("T")


def retries() -> int:
    """How many times a call is retried before the sync gives up (for the messages)."""
    return len(RETRY_DELAYS_S)


def call_with_retries(call: Callable[[], T], *, retryable: Callable[[Exception], bool],
                      translate: Callable[[Exception], SyncError],
                      sleep: Callable[[float], None],
                      catch: tuple[type[Exception], ...] = (Exception,),
                      on_retry: Callable[[], None] = lambda: None) -> T:
    """`call()`'s answer; an error of a `catch` class is retried after each of RETRY_DELAYS_S
    while `retryable` says so, else (or once they are spent) raised as `translate(error)`."""
    delays = RETRY_DELAYS_S
    for attempt in range(len(delays) + 1):
        try:
            return call()
        except catch as error:
            if attempt == len(delays) or not retryable(error):
                raise translate(error) from None
        on_retry()
        sleep(delays[attempt])
    raise AssertionError("unreachable")
