"""The Graph connections the process's runs share: one client per trust, left open by the
runs, closed with the container, keeping no cookies between accounts."""

from __future__ import annotations

import ssl

import httpx
import pytest

from switchboard.directory.auth import StaticToken
from switchboard.directory.client import GraphClient
from switchboard.directory.connections import GraphConnections


def closed(client: httpx.Client) -> bool:
    return client.is_closed


def test_one_client_per_trust_shared_by_runs_and_closed_with_the_pool() -> None:
    public, private = ssl.create_default_context(), ssl.create_default_context()
    connections = GraphConnections()
    shared = connections.client(public)
    assert connections.client(public) is shared
    assert connections.client(private) is not shared
    run = GraphClient("https://graph.example", StaticToken("t"), verify=public, http=shared)
    run.close()
    assert not closed(shared)  # a run's end leaves the shared connections open
    own = GraphClient("https://graph.example", StaticToken("t"), verify=public)
    own.close()  # a client without a shared pool closes its own
    connections.close()
    assert closed(shared)
    with pytest.raises(RuntimeError, match="closed"):
        connections.client(public)


def test_the_shared_client_keeps_no_cookie_an_answer_sets() -> None:
    connections = GraphConnections()
    shared = connections.client(ssl.create_default_context())
    request = httpx.Request("GET", "https://graph.microsoft.com/v1.0/users")
    answer = httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, request=request)
    shared.cookies.extract_cookies(answer)
    assert not shared.cookies
    connections.close()
