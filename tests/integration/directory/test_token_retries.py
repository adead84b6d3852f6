"""The token endpoint's transient failures, through msal and the certificate like production:
retried with backoff like Graph calls, and put in words when they outlast the retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from switchboard.directory.auth import MsalTokenProvider
from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.errors import GraphThrottled, TransientGraphError
from switchboard.directory.graph_directory import GraphDirectory
from switchboard.emulator.server import RunningEmulator
from tests.integration.graph_emulator import FAST_RETRY, READER, credentials


def token_faults(emu: RunningEmulator, kind: str, budget: int | None, **more: object) -> None:
    """Errors of ``kind`` on the token endpoint only (Graph answers normally)."""
    changes = {
        "error_rate": 1.0,
        "error_kinds": [kind],
        "error_targets": ["token"],
        "error_budget": budget,
        "retry_after_seconds": 0.05,
        **more,
    }
    emu.call(lambda: emu.emulator.faults.update(changes))


def budget_left(emu: RunningEmulator) -> int | None:
    return emu.call(lambda: emu.emulator.faults.error_budget)


@pytest.mark.parametrize("kind", ["503", "429", "reset"])
def test_token_endpoint_failures_are_retried_then_the_read_succeeds(
    emu: RunningEmulator, directory_for: Callable[..., GraphDirectory], kind: str
) -> None:
    directory = directory_for()
    token_faults(emu, kind, budget=2)
    users = list(directory.users_in_scope([], ["displayName"]))
    assert len(users) == len(emu.emulator.directory.users)
    assert budget_left(emu) == 0  # both injected failures were met, and retried past


def test_token_endpoint_timeout_is_retried(emu: RunningEmulator) -> None:
    creds = credentials(emu, READER)
    provider = MsalTokenProvider(creds, timeout=0.5)
    token_faults(emu, "timeout", budget=1, timeout_seconds=3.0)
    with GraphClient(
        creds.graph_url, provider, verify=creds.ssl_context(), retry=FAST_RETRY
    ) as client:
        assert client.get("/users", {"$top": "1"})["value"]
    assert budget_left(emu) == 0
    provider.close()


def test_token_endpoint_down_for_good_is_a_transient_error_in_words(
    emu: RunningEmulator, directory_for: Callable[..., GraphDirectory]
) -> None:
    directory = directory_for(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0))
    token_faults(emu, "503", budget=None)
    with pytest.raises(TransientGraphError) as err:
        directory.get_user("nobody@example.test", ["displayName"])
    host = emu.url.split("://", 1)[1]
    assert err.value.message == (
        f"the token endpoint at {host} is unavailable (HTTP 503) (gave up after 3 attempts)"
    )
    assert err.value.status == 503


def test_token_endpoint_asking_for_a_long_wait_stops_the_call(
    emu: RunningEmulator, directory_for: Callable[..., GraphDirectory]
) -> None:
    directory = directory_for()
    token_faults(emu, "429", budget=None, retry_after_seconds=600)
    with pytest.raises(GraphThrottled) as err:
        directory.get_user("nobody@example.test", ["displayName"])
    assert err.value.wait_seconds == 600
    assert "asked to wait 10 minutes" in err.value.message
