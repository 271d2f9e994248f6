"""The server's sockets: every render's messages leave without waiting on the browser.

Streamlit 1.67 binds its listening socket itself, as `socket.socket(family)`, so the socket's
protocol number reads 0 rather than IPPROTO_TCP. asyncio switches Nagle's algorithm off only
for sockets whose protocol reads IPPROTO_TCP, so every browser connection keeps it on: the
first message of a render goes out, the rest wait for the browser's acknowledgement, which the
browser delays by up to 40 ms. Every click then cost 40 ms more than its work
(ui/load.py measured 44 ms for a one-line app, 6 ms once Nagle is off).

Linux copies TCP_NODELAY from a listening socket to the connections it accepts, so setting it
once on the process's TCP sockets (the listener, and the connections already open) fixes every
later connection too.
"""

from __future__ import annotations

import os
import socket
import threading

_FDS = "/proc/self/fd"
_lock = threading.Lock()
_done = False


def send_without_delay() -> int:
    """Switch Nagle's algorithm off on this process's TCP sockets, once per process; the
    number of sockets changed (0 where /proc is missing, as on macOS)."""
    global _done
    with _lock:
        if _done:
            return 0
        _done = True
        return sum(_no_delay(int(name)) for name in _listing())


def _listing() -> list[str]:
    try:
        return os.listdir(_FDS)
    except OSError:
        return []


def _no_delay(fd: int) -> bool:
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
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            return False
        return True
