"""Schemathesis against the OpenAPI document, with every check it has (not only "no 5xx").

The app runs in-process over ASGI on a fresh SQLite database holding one account (``acme``,
with two locations, numbers and a license) and a provider admin's API token. Every operation
is generated from the document (examples, coverage of edge values, fuzzing); any failed check
fails the test. Examples per operation are bounded so the whole run takes a minute or two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.engine import make_engine
from switchboard.db.migrate import upgrade
from switchboard.db.models import ApiToken
from switchboard.portal import api_tokens
from switchboard.portal.actors import Role
from switchboard.portal.media import CONTENT_TYPES
from switchboard.web.app import create_app
from tests import factories
from tests.conftest import START
from tests.factories import OPERATOR
from tests.wiring import ContainerBuilder

MAX_EXAMPLES = 25
# The document's "e164" format: numbers valid for their country code, as libphonenumber says
# (a pattern cannot say it). Chicago's 555-01xx range is valid and fictional.
schemathesis.openapi.format("e164", st.integers(0, 9999).map(lambda n: f"+1312555{n:04d}"))
# Audio files are sent as they are, like any binary part.
schemathesis.serializer.alias(list(CONTENT_TYPES), "application/octet-stream")


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    engine = make_engine(f"sqlite:///{tmp_path / 'contract.db'}")
    upgrade(engine)
    builder = ContainerBuilder(engine, tmp_path / "data", FixedClock(START))
    container = builder()
    with container.unit_of_work() as session:
        factories.tenant(session, "acme", "312")
    config = SchemathesisConfig.from_dict(
        {
            "parameters": {"account": "acme"},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(container), config=config)
    schema.auth(refresh_interval=None)(_token_provider(container))
    try:
        yield schema
    finally:
        builder.close()
        engine.dispose()


def _token_provider(container: Container) -> type[schemathesis.AuthProvider[str]]:
    """A provider admin's token, issued again whenever a generated request revoked it."""
    token = factories.token_for(container, "ops@provider.example.com", Role.PROVIDER_ADMIN)
    current = {"token": token}

    class FreshToken:
        def get(self, _case: Case[Any], _ctx: schemathesis.AuthContext) -> str:
            with container.unit_of_work() as session:
                prefix = current["token"].split("_")[1]
                record = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
                if record is not None and record.revoked_at is not None:
                    issued = api_tokens.issue_token(session, OPERATOR, record.principal)
                    current["token"] = issued.token
            return current["token"]

        def set(self, case: Case[Any], token: str, _ctx: schemathesis.AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {token}"

    return FreshToken


def _failures(schema: schemathesis.BaseSchema) -> tuple[list[str], list[str]]:
    """Every failed check (operation, check, message, curl) and every engine error."""
    failures: dict[tuple[str, str, str], str] = {}
    errors: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    info = check.failure_info
                    if info is None:
                        continue
                    key = (event.recorder.label, check.name, info.failure.title)
                    failures.setdefault(
                        key, f"{key[0]} [{check.name}] {info.failure.message}\n  {info.code_sample}"
                    )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            errors.append(f"engine: {event.exception!r}")
    return list(failures.values()), errors


# Generated audio uploads can be large; hypothesis warns about describing them, harmlessly.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_the_api_keeps_its_documented_contract(api_schema: schemathesis.BaseSchema) -> None:
    failures, errors = _failures(api_schema)
    assert not errors, "\n".join(errors)
    assert not failures, f"{len(failures)} failed checks:\n" + "\n".join(failures)
