"""The one place this app reaches past Streamlit's public API (written against Streamlit 1.67),
and why. `install()` runs both hooks once per process; app.py and every page call it first,
because the first run a fresh server makes may be either.

**Deep links go through app.py's navigation.** The product keeps its page scripts in `pages/`,
which is also Streamlit's legacy multipage folder. Streamlit decides once per process, when the
first session starts, whether the app is a legacy one (`PagesManager.uses_pages_directory`:
"is there a `pages/` beside the entry script"), and only calling `st.navigation` clears it. So
when a fresh server's first request is a link such as /pipeline, that run executes
pages/pipeline.py alone, without app.py's sidebar filters or page list. No config option or
API turns the legacy mode off (docs/upstream/streamlit-pages-directory.md), so the first run
clears the flag and starts again; every later run, in every session, goes through app.py.
tests/browser/test_app.py's deep-link test fails the day Streamlit changes the flag.

**Renders reach the browser without Nagle's delay.** Streamlit 1.67 binds its listening socket
as `socket.socket(family)`, so Python reports its protocol as 0 rather than IPPROTO_TCP, and
asyncio only switches Nagle's algorithm off (`base_events._set_nodelay`) on connections whose
protocol reads IPPROTO_TCP. Each render's later messages then wait for the browser's delayed
acknowledgement, up to 40 ms (docs/upstream/streamlit-tcp-nodelay.md). Streamlit binds before
any of our code runs and offers no handle on the socket afterwards, so the first run sets
TCP_NODELAY on this process's sockets bound to Streamlit's port: the listener (Linux passes the
option on to every connection accepted later) and the connections already accepted. Other
sockets (a CRM client's, say) are left alone. Where /proc is missing (macOS), nothing changes.
Measured with docs/upstream/streamlit-tcp-nodelay.md's script (a one-line `st.write` app, 200
reruns over the websocket, two runs each) on a 2-core machine shared with other jobs: fastest
render 41.0 and 41.2 ms without the hook, 5.6 and 5.6 ms with it (medians 151/140 ms against
105/78 ms, most of it waiting for a core); on a quiet machine earlier, 44 ms against 6 ms.
"""

from __future__ import annotations

import os
import socket
import threading

import streamlit as st

_FDS = "/proc/self/fd"
_lock = threading.Lock()
_installed = False


def install() -> None:
    """Both hooks, once per process; when this run is a page running alone (the legacy mode
    a fresh server starts in), start it again through app.py."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        send_without_delay(int(st.get_option("server.port")))
        legacy_run = _leave_pages_directory_mode()
    if legacy_run:
        st.rerun()


def _leave_pages_directory_mode() -> bool:
    """Clear Streamlit's legacy-multipage flag; whether it was set."""
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        return True
    return False


def send_without_delay(port: int) -> int:
    """Switch Nagle's algorithm off on this process's TCP sockets bound to `port`; how many."""
    try:
        names = os.listdir(_FDS)
    except OSError:
        return 0
    return sum(_no_delay(int(name), port) for name in names)


def _no_delay(fd: int, port: int) -> bool:
    try:
        if not os.readlink(f"{_FDS}/{fd}").startswith("socket:"):
            return False
        # A duplicate of the descriptor: closing it leaves the server's socket open.
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False  # closed meanwhile, or not a socket Python can wrap
    with sock:
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            return False
        try:
            if sock.getsockname()[1] != port:
                return False
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            return False
        return True
