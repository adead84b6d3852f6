"""Keep-alive connections to Microsoft Graph, shared by the process's sync runs.

A run used to open a pool of its own, and so paid a TCP and a TLS handshake per connection
(a few round trips each on the internet) at the start of every run: for a just-in-time round
of one changed user, a good part of its time. One pool per trust (CA bundle, so per Graph
cloud) serves every registration of the process instead. A request carries its own token
(``GraphClient`` adds it to each one), and the pool keeps no cookies, so the connections hold
nothing of an account.
"""

from __future__ import annotations

import ssl
import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from switchboard.directory.client import USER_AGENT

TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class GraphConnections:
    """The process's HTTP clients for Graph, one per TLS trust; closed with the container."""

    def __init__(self, *, max_connections: int = 64) -> None:
        self.max_connections = max_connections
        self._clients: dict[ssl.SSLContext, httpx.Client] = {}
        # Retired: no new request gets them; closed with the rest (a run may still use one).
        self._retired: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._closed = False

    def client(self, verify: ssl.SSLContext) -> httpx.Client:
        """The shared client for this trust (``GraphCredentials.ssl_context()`` gives one
        context per CA bundle). Callers must not close it."""
        with self._lock:
            if self._closed:
                # A client made now would never be closed: its connections would leak.
                raise RuntimeError("the Graph connections are closed: the application is stopping")
            found = self._clients.get(verify)
            if found is None:
                found = self._clients[verify] = httpx.Client(
                    verify=verify,
                    http2=False,
                    limits=httpx.Limits(
                        max_connections=self.max_connections,
                        max_keepalive_connections=self.max_connections,
                        keepalive_expiry=30.0,
                    ),
                    timeout=TIMEOUT,
                    headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                    # Shared by every account: never keep a cookie one answer set.
                    cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                    trust_env=False,
                )
            return found

    def retire(self, verify: ssl.SSLContext) -> bool:
        """Stop handing out this trust's client (a registration changed its CA bundle or
        hosts): the next request under that trust opens new connections. A run that holds
        the old client finishes with it; it is closed with the others."""
        with self._lock:
            found = self._clients.pop(verify, None)
            if found is not None:
                self._retired.append(found)
            return found is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            while self._clients:
                self._clients.popitem()[1].close()
            while self._retired:
                self._retired.pop().close()
