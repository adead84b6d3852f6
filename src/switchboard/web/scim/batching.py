"""Concurrent ``POST /Users`` requests of one account become one transaction.

Entra and Okta send creates in parallel; one at a time, each would hold the account's write
lock for a transaction of its own. Here a request queues its body; whichever request finds no
batch of its account in flight takes every queued body and writes them together
(``scim.user_batches.create_many``), commits, and hands each request its own outcome, while
the requests arriving meanwhile queue for the next batch. A request is answered only after
the transaction holding its user committed.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.bootstrap import Container
from switchboard.db.models import Account, ScimSource
from switchboard.scim import user_batches, users
from switchboard.scim.errors import ScimError
from switchboard.web.scim.coalescing import Coalescer

log = logging.getLogger("switchboard.scim")
MAX_BATCH = 200


@dataclass
class Created:
    resource: dict[str, Any]
    subject: str
    change: str


@dataclass(frozen=True)
class _Create:
    body: object
    base_url: str


class CreateQueue:
    def __init__(self, container: Container, max_batch: int = MAX_BATCH) -> None:
        self.container = container
        self._creates: Coalescer[_Create, Created] = Coalescer(self._write, max_batch=max_batch)

    def create(self, account_id: int, body: object, base_url: str) -> Created:
        """The created user, or the ScimError that refused it."""
        return self._creates.submit(account_id, _Create(body, base_url))

    def _write(self, key: Hashable, batch: Sequence[_Create]) -> list[Created | ScimError]:
        account_id = int(str(key))
        try:
            with self.container.unit_of_work() as session:
                account = session.get(Account, account_id)
                source = session.get(ScimSource, account_id)
                if account is None or source is None:
                    gone = ScimError(404, "this account no longer takes users over SCIM")
                    return [gone for _job in batch]
                outcomes = user_batches.create_many(
                    session, account, source, [job.body for job in batch]
                )
                # Rendered before the commit, answered only after it (the with block).
                return [
                    _answer(session, account, source, job, outcome)
                    for job, outcome in zip(batch, outcomes, strict=True)
                ]
        except Exception:
            log.exception("a batch of %d SCIM creates failed", len(batch))
            failed = ScimError(500, "something went wrong on our side; try again")
            return [failed for _job in batch]


def _answer(
    session: Any, account: Account, source: ScimSource, job: _Create, outcome: user_batches.Result
) -> Created | ScimError:
    if isinstance(outcome, ScimError):
        return outcome
    row = outcome.row
    portal = outcome.portal
    if portal is None and users.uses_portal_fields(source):
        portal = users.portal_user(session, account, row)
    location = f"{job.base_url}/Users/{row.id}"
    return Created(users.render(row, portal, location, source), row.user_name, outcome.change)
