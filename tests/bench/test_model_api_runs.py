"""bench/model_api_runs.py: the ports handed to servers started side by side."""

from __future__ import annotations

import socket

from bench.model_api_runs import free_ports


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(12)
    assert len(set(ports)) == 12
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
