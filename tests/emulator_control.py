"""The emulator's control API (/_emulator) as tests drive it: a test changes the emulator's
settings the way an operator does, through the API, not by assigning to its internals."""

from __future__ import annotations

import ssl

import httpx

from switchboard.emulator.server import RunningEmulator

# The emulator's own default: Graph's delta pages hold at most 200 objects.
DEFAULT_DELTA_PAGE_SIZE = 200


def ca_context(server: RunningEmulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_path))


def control(server: RunningEmulator) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/_emulator",
        verify=ca_context(server),
        headers={"X-Emulator-Key": server.emulator.control_key},
        timeout=30,
    )


def set_delta_page_size(server: RunningEmulator, size: int) -> None:
    """How many objects each users/delta and groups/delta page holds from now on."""
    with control(server) as ctl:
        response = ctl.patch("/settings", json={"delta_page_size": size})
    assert response.status_code == 200, response.text
    assert response.json() == {"delta_page_size": size}
