"""ui.streamlit_hooks' socket hook: TCP_NODELAY set on a listening socket made as Streamlit
makes its own reaches the connections accepted afterwards, and the ones already accepted get it
too; sockets on other ports are left as they were. (The deep-link hook is tested end to end in
tests/browser/test_app.py: a fresh server's first request.)"""

import socket
import sys

import pytest

from ui import streamlit_hooks

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/fd; Linux copies the option on accept")


def _nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_the_servers_port_sends_without_delay_before_and_after_the_hook():
    with socket.socket(socket.AF_INET) as listener, socket.socket(socket.AF_INET) as other:
        listener.bind(("127.0.0.1", 0))  # protocol 0, as Streamlit 1.67 binds it
        listener.listen()
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            earlier, _ = listener.accept()
            with earlier:
                assert not _nodelay(earlier)  # what asyncio leaves: Nagle on
                # The listener and the connection already accepted; not `other`.
                assert streamlit_hooks.send_without_delay(port) == 2
                assert _nodelay(earlier) and not _nodelay(other)
        with socket.create_connection(("127.0.0.1", port)):
            later, _ = listener.accept()
            with later:
                assert _nodelay(later)
        assert listener.fileno() != -1  # the server's own socket stays open


def test_files_and_other_descriptors_are_left_alone(tmp_path):
    with open(tmp_path / "file", "w") as file:
        assert not streamlit_hooks._no_delay(file.fileno(), 0)
    assert not streamlit_hooks._no_delay(10_000_000, 0)  # no such descriptor
