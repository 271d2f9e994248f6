"""The CRMs' retry policy: how long a sync waits on a loaded or unreachable CRM before it gives
up and says so (the loop itself is `sales.retry`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sales import retry
from sales.crm.sync import SyncError

# Waits before each retry of a call the CRM refused for load (a rate limit, a 5xx) or could not
# be reached for (a dropped connection): about a minute in all. Read at each call, so a test
# can shorten them.
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
    """`sales.retry.call_with_retries` with the CRMs' waits."""
    return retry.call_with_retries(call, delays=RETRY_DELAYS_S, retryable=retryable,
                                   translate=translate, sleep=sleep, catch=catch,
                                   on_retry=on_retry)
