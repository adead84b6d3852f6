from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from switchboard.bootstrap import Container
from tests.scim_support import ScimClient, scim_account


@pytest.fixture
def scim(container: Container, app_client: TestClient) -> ScimClient:
    return ScimClient(app_client, "acme", scim_account(container))
