"""scim2-tester, an outside SCIM conformance checker, run against the live endpoint (a real
uvicorn server) over both databases: every check it makes must pass."""

from __future__ import annotations

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from switchboard.bootstrap import Container
from switchboard.scim.source import ScimSettings
from tests.live_server import serve
from tests.scim_support import scim_account


def test_scim2_tester_finds_nothing_wrong(container: Container) -> None:
    # The checker sends faster than an identity provider; the rate limit is not under test.
    token = scim_account(container, settings=ScimSettings(rate_limit=10_000))
    with serve(container) as base:
        http = httpx2.Client(
            base_url=f"{base}/scim/v2/acme",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        client = SyncSCIMClient(http)
        client.discover()
        results = check_server(client)
        http.close()
    failures = [
        f"{r.title} [{r.resource_type}]: {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED)
    ]
    assert results, "the checker ran no check"
    assert not failures, "\n".join(failures)
    assert sum(r.status == Status.SUCCESS for r in results) >= 30
