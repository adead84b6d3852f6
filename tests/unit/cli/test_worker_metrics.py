"""`switchboard worker --metrics-port`: the process's counters over prometheus-client's server."""

from __future__ import annotations

import socket

import httpx
import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families

from switchboard.cli.worker_commands import _metrics_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_worker_serves_its_counters_and_stops_serving_them() -> None:
    port = _free_port()
    with _metrics_server("127.0.0.1", port):
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    names = {family.name for family in text_string_to_metric_families(body)}
    assert {"switchboard_sync_runs", "switchboard_graph_requests"} <= names
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_port_in_use_is_refused_in_words() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(typer.Exit) as refused, _metrics_server("127.0.0.1", port):
            pass
    assert refused.value.exit_code == 2


def test_no_port_serves_nothing() -> None:
    with _metrics_server("127.0.0.1", None):
        pass
