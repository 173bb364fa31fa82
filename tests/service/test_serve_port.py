"""`llmemu serve` on a port already in use: one line and exit 2, before any banner."""

from __future__ import annotations

import socket


def test_port_in_use_is_one_line_and_exit_2(cli):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        code, out, err = cli("serve", "--model", "llama-3-8b", "--system", "h100x1", "--port", str(port))  # fmt: skip
    assert code == 2
    assert out == ""  # no banner for a server that never listened
    assert err == f"llmemu serve: error: --port {port}: cannot listen on 127.0.0.1:{port} (Address already in use); stop what holds it or choose another --port\n"  # fmt: skip
