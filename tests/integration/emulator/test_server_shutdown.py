"""Stopping a running emulator leaves no socket behind, even with a client still connected."""

from __future__ import annotations

import gc
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx

from switchboard.emulator.server import running
from switchboard.emulator.state import SeedOptions


def test_a_pooled_client_connection_is_closed_with_the_server(tmp_path: Path) -> None:
    unraisable: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        with running(tmp_path, seed=SeedOptions(users=2, groups=1, seed=1)) as emu:
            ctx = ssl.create_default_context(cafile=str(emu.ca_path))
            client = httpx.Client(verify=ctx, timeout=10)
            # An idle keep-alive connection: the client never answers the server's close.
            answer = client.get(f"{emu.url}/{emu.tenant_id}/v2.0/.well-known/openid-configuration")
            assert answer.status_code == 200
        gc.collect()
        client.close()
        gc.collect()
    finally:
        sys.unraisablehook = previous
    leaked = [u for u in unraisable if isinstance(u.exc_value, ResourceWarning)]
    assert leaked == [], [str(u.exc_value) for u in leaked]
