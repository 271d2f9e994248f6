"""Nagle's algorithm off for the server's connections (ui.network): set on a listening socket
made as Streamlit makes its own, it reaches the connections accepted afterwards."""

import socket
import sys

import pytest

from ui import network

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/fd; Linux copies the option on accept")


def test_connections_accepted_after_the_listener_was_set_send_without_delay():
    with socket.socket(socket.AF_INET) as listener:  # protocol 0, as Streamlit binds it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert network._no_delay(listener.fileno())
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert listener.fileno() != -1  # the server's own socket stays open


def test_files_and_other_descriptors_are_left_alone(tmp_path):
    with open(tmp_path / "file", "w") as file:
        assert not network._no_delay(file.fileno())
    assert not network._no_delay(10_000_000)  # no such descriptor
