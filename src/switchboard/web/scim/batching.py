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
import threading
from dataclasses import dataclass
from typing import Any

from switchboard.bootstrap import Container
from switchboard.db.models import Account, ScimSource
from switchboard.scim import user_batches, users
from switchboard.scim.errors import ScimError

log = logging.getLogger("switchboard.scim")
MAX_BATCH = 200


@dataclass
class Created:
    resource: dict[str, Any]
    subject: str
    change: str


@dataclass
class _Job:
    body: object
    base_url: str
    done: bool = False
    created: Created | None = None
    error: ScimError | None = None


class CreateQueue:
    def __init__(self, container: Container, max_batch: int = MAX_BATCH) -> None:
        self.container = container
        self.max_batch = max_batch
        self._ready = threading.Condition()
        self._pending: dict[int, list[_Job]] = {}
        self._writing: set[int] = set()

    def create(self, account_id: int, body: object, base_url: str) -> Created:
        """The created user, or the ScimError that refused it."""
        job = _Job(body, base_url)
        with self._ready:
            self._pending.setdefault(account_id, []).append(job)
        while True:
            with self._ready:
                while not job.done and account_id in self._writing:
                    self._ready.wait()
                if job.done:
                    break
                queued = self._pending.pop(account_id, [])
                batch, rest = queued[: self.max_batch], queued[self.max_batch :]
                if rest:
                    self._pending[account_id] = rest
                self._writing.add(account_id)
            try:
                self._write(account_id, batch)
            finally:
                with self._ready:
                    self._writing.discard(account_id)
                    self._ready.notify_all()
        if job.error is not None:
            raise job.error
        assert job.created is not None
        return job.created

    def _write(self, account_id: int, batch: list[_Job]) -> None:
        answers: list[Created | ScimError] = []
        try:
            with self.container.unit_of_work() as session:
                account = session.get(Account, account_id)
                source = session.get(ScimSource, account_id)
                if account is None or source is None:
                    gone = ScimError(404, "this account no longer takes users over SCIM")
                    answers = [gone for _job in batch]
                else:
                    outcomes = user_batches.create_many(
                        session, account, source, [job.body for job in batch]
                    )
                    for job, outcome in zip(batch, outcomes, strict=True):
                        answers.append(_answer(session, account, source, job, outcome))
        except Exception:
            log.exception("a batch of %d SCIM creates failed", len(batch))
            failed = ScimError(500, "something went wrong on our side; try again")
            answers = [failed for _job in batch]
        # Only now, the transaction committed (or rolled back as a whole).
        for job, answer in zip(batch, answers, strict=True):
            if isinstance(answer, ScimError):
                job.error = answer
            else:
                job.created = answer
            job.done = True


def _answer(
    session: Any, account: Account, source: ScimSource, job: _Job, outcome: user_batches.Result
) -> Created | ScimError:
    if isinstance(outcome, ScimError):
        return outcome
    row = outcome.row
    portal = outcome.portal
    if portal is None and users.uses_portal_fields(source):
        portal = users.portal_user(session, account, row)
    location = f"{job.base_url}/Users/{row.id}"
    return Created(users.render(row, portal, location, source), row.user_name, outcome.change)
