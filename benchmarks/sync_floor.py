"""The sync benchmark's floors: what a run could not go below.

floor       The transport alone: a bare httpx client reading the same data one page at a
            time (/users for a full run, the same delta link for a delta round, one GET for a
            single user).
work floor  (0 ms rows) Those pages, read on a thread while the main thread writes, plus the
            rows the run must write, written bare: the engine run's counts become rows (a
            create: a user, its audit event, its run item; an update, enable, disable, link or
            relocation: one UPDATE of the user, an audit event, an item; a deletion: one
            DELETE, an audit event, an item; an error or a logged skip: an item; an unchanged
            user: nothing), built as tuples from the page users and written by the engine's
            driver (sqlite3 or psycopg, DB-API executemany), one transaction per 2,000 users
            as the engine commits, into a migrated copy of the schema (sync_floor_db).

Both clients hold a token before the clock starts, as the engine's does.
"""

from __future__ import annotations

import itertools
import json
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import select
from sync_child import container, cpu_seconds, peak_rss_mb, warm_token
from sync_floor_db import FloorDb, prepare

from switchboard.db.models import DirectoryRegistration
from switchboard.sync.policy import SyncPolicy

CHUNK = 2000  # users per transaction, the engine's chunk_size
ACTOR = "directory-sync"
CREATE_FIELDS = json.dumps(
    ["email", "extension", "first_name", "last_name", "location_id", "username"]
)
UPDATE_FIELDS = json.dumps(["first_name", "last_name"])
NO_FIELDS = json.dumps([])
# Actions that change a user row in place.
UPDATES = ("update", "enable", "disable", "link", "relocate")
DISABLED = "disabled_in_directory"

User = dict[str, Any]


def pages(client: httpx.Client, fields: str, link: str | None) -> Iterator[list[User]]:
    """The users, one page at a time: /users, or the pages of a delta link."""
    if link is None:
        resp = client.get("/users", params={"$select": fields, "$top": "999"})
    else:
        resp = client.get(link)
    while True:
        resp.raise_for_status()
        body = resp.json()
        yield body["value"]
        link = body.get("@odata.nextLink")
        if not link:
            return
        resp = client.get(link)


def run(kind: str, scenario: str, setup: dict[str, Any]) -> dict[str, Any]:
    c = container(setup)
    provider = warm_token(c)
    with c.unit_of_work() as s:
        policy = SyncPolicy.model_validate(s.scalar(select(DirectoryRegistration.policy)) or {})
    c.engine.dispose()
    fields = ",".join(dict.fromkeys(["id", *policy.select()]))
    with httpx.Client(
        base_url=f"{setup['url']}/v1.0",
        verify=ssl.create_default_context(cafile=setup["ca_path"]),
        timeout=300,
        headers={"Authorization": f"Bearer {provider.token()}"},
    ) as client:
        if kind == "work-floor":
            return work_floor(client, fields, setup)
        return read_floor(client, fields, scenario, setup)


def read_floor(
    client: httpx.Client, fields: str, scenario: str, setup: dict[str, Any]
) -> dict[str, Any]:
    count = requests = 0
    started = time.perf_counter()
    if scenario == "single":
        client.get(f"/users/{setup['single_upn']}", params={"$select": fields}).raise_for_status()
        count = requests = 1
    else:
        for page in pages(client, fields, setup.get("delta_link")):
            requests += 1
            count += len(page)
    return {"users": count, "seconds": time.perf_counter() - started, "requests": requests}


def operations(counts: dict[str, int], skip_items: int) -> Iterator[str]:
    """What the run did, one action per user it did something to (the order is the floor's:
    the rows, not their order, are what it must match)."""
    # Writes the database refused ("failed": creates past a full dial plan, here) leave an
    # item and no user row.
    failed = min(counts.get("failed", 0), counts.get("create", 0))
    kinds = [("create", counts.get("create", 0) - failed)]
    kinds += [(action, counts.get(action, 0)) for action in UPDATES]
    kinds += [("delete", counts.get("delete", 0)), ("error", counts.get("error", 0) + failed)]
    kinds.append(("skip", skip_items))
    return itertools.chain.from_iterable(itertools.repeat(k, n) for k, n in kinds if n > 0)


class Chunk:
    """The rows of one transaction, built as plain tuples."""

    def __init__(self, db: FloorDb, ids: tuple[int, int, int, int], fresh: bool, ext: int) -> None:
        self.db = db
        self.account_id, self.location_id, self.run_id, self.run_number = ids
        self.fresh = fresh  # an empty account: the pages' own keys cannot collide
        self.next_extension = ext
        self.taken: set[str] = set()
        self.targets: list[int] = []  # existing users for updates and deletions
        self.users = 0
        self.rows = {"users": 0, "audit_events": 0, "sync_run_items": 0}
        self.write_seconds = 0.0  # in the database driver: the rest is reading and tuples
        self._reset()

    def _reset(self) -> None:
        self.stamp = self.db.stamp()
        self.creates: list[tuple[object, ...]] = []
        self.created: list[tuple[str, str]] = []
        self.updates: list[tuple[object, ...]] = []
        self.updated: list[int] = []
        self.deletes: list[int] = []
        self.items: list[tuple[object, ...]] = []
        self.in_chunk = 0

    def add(self, action: str | None, user: User) -> None:
        self.users += 1
        self.in_chunk += 1
        if action == "create":
            self._create(user)
        elif action in UPDATES:
            status = DISABLED if action == "disable" else "active"
            first, last = user.get("givenName") or "-", user.get("surname") or "-"
            target = self.targets.pop()
            self.updates.append((first, last, status, self.stamp, target))
            self.updated.append(target)
        elif action == "delete":
            self.deletes.append(self.targets.pop())
        elif action is not None:
            state, code = ("failed", "invalid") if action == "error" else ("skipped", "scope")
            upn = user.get("userPrincipalName")
            self.items.append(
                (self.run_id, user.get("id"), upn, None, action, NO_FIELDS, code, code, state, None)
            )
        if self.in_chunk >= CHUNK:
            self.flush()

    def _create(self, user: User) -> None:
        directory_id = user.get("id") or str(uuid.uuid4())
        upn = user.get("userPrincipalName") or f"{directory_id}@floor.example"
        mail = user.get("mail") or upn
        keys = (directory_id, upn.casefold(), mail.casefold())
        if not self.fresh or any(k in self.taken for k in keys):
            directory_id = str(uuid.uuid4())
            upn = mail = f"{directory_id}@floor.example"
            keys = (directory_id, upn, mail)
        self.taken.update(keys)
        status = "active" if user.get("accountEnabled", True) else DISABLED
        extension = str(self.next_extension)
        self.next_extension += 1
        self.creates.append(
            (
                self.account_id,
                upn,
                keys[1],
                user.get("givenName") or "-",
                user.get("surname") or "-",
                mail,
                keys[2],
                self.location_id,
                extension,
                None,
                status,
                "directory",
                directory_id,
                self.stamp,
                self.stamp,
            )
        )
        self.created.append((directory_id, upn))

    def flush(self) -> None:
        db, run_id = self.db, self.run_id
        began = time.perf_counter()
        audit: list[tuple[object, ...]] = []
        ids = db.create_users(self.creates)
        for user_id, (directory_id, upn) in zip(ids, self.created, strict=True):
            audit.append(self._audit("user.created", user_id, CREATE_FIELDS))
            self.items.append(
                (
                    run_id,
                    directory_id,
                    upn,
                    user_id,
                    "create",
                    NO_FIELDS,
                    None,
                    None,
                    "applied",
                    None,
                )
            )
        db.many(db.update_user, self.updates)
        for user_id in self.updated:
            audit.append(self._audit("user.updated", user_id, UPDATE_FIELDS))
            self.items.append(
                (run_id, None, None, user_id, "update", UPDATE_FIELDS, None, None, "applied", None)
            )
        db.many(db.delete_user, [(user_id,) for user_id in self.deletes])
        for user_id in self.deletes:
            audit.append(self._audit("user.deleted", user_id, NO_FIELDS))
            self.items.append(
                (run_id, None, None, user_id, "delete", NO_FIELDS, None, None, "applied", None)
            )
        db.many(db.insert_audit, audit)
        db.many(db.insert_item, self.items)
        db.commit()
        self.write_seconds += time.perf_counter() - began
        self.rows["users"] += len(self.creates) + len(self.updates) + len(self.deletes)
        self.rows["audit_events"] += len(audit)
        self.rows["sync_run_items"] += len(self.items)
        self._reset()

    def _audit(self, action: str, user_id: int, fields: str) -> tuple[object, ...]:
        return (
            self.account_id,
            ACTOR,
            action,
            "user",
            str(user_id),
            fields,
            self.stamp,
            None,
            self.run_number,
        )


def work_floor(client: httpx.Client, fields: str, setup: dict[str, Any]) -> dict[str, Any]:
    spec = setup["work"]
    ids = prepare(setup, spec["url"], "full" if spec["link"] is None else "delta")
    db = FloorDb(spec["url"])
    try:
        account_id = ids[0]
        existing = db.scalar("SELECT count(*) FROM users WHERE account_id = ?", account_id)
        top = db.scalar(  # as numbers: "999999" sorts above "1000000" as text
            "SELECT max(CAST(extension AS BIGINT)) FROM users WHERE account_id = ?", account_id
        )
        chunk = Chunk(db, ids, fresh=not existing, ext=int(top) + 1 if top else 100_000)
        counts: dict[str, int] = spec["counts"]
        wanted = sum(counts.get(a, 0) for a in (*UPDATES, "delete"))
        # Users the churn would touch anywhere in the table, not the newest rows only.
        chunk.targets = db.column(
            "SELECT id FROM users WHERE account_id = ? ORDER BY random() LIMIT ?",
            account_id,
            wanted,
        )
        if len(chunk.targets) < wanted:
            raise SystemExit(
                f"the work floor's copy holds {len(chunk.targets)} users, fewer than the "
                f"{wanted} the run updated or deleted: run it after the initial floor"
            )
        db.commit()
        ops = operations(counts, spec["skip_items"])
        inbox: queue.Queue[list[User] | BaseException | None] = queue.Queue()

        def read() -> None:
            try:
                for page in pages(client, fields, spec["link"]):
                    inbox.put(page)
                inbox.put(None)
            except BaseException as exc:  # handed to the writing thread, which raises it
                inbox.put(exc)

        reader = threading.Thread(target=read, name="floor-reader")
        cpu = cpu_seconds()
        started = time.perf_counter()
        reader.start()
        last: list[User] = [{}]
        read_users = 0
        while (page := inbox.get()) is not None:
            if isinstance(page, BaseException):
                raise page
            read_users += len(page)
            for user in page:
                chunk.add(next(ops, None), user)
            last = page or last
        # More actions than page users (a deletion can be a page's @removed entry): their
        # rows are built from the last page's users.
        for action, user in zip(ops, itertools.cycle(last), strict=False):
            chunk.add(action, user)
        chunk.flush()
        seconds = time.perf_counter() - started
        reader.join()
        return {
            "users": read_users,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds() - cpu,
            "rss_mb": peak_rss_mb(),
            "rows": chunk.rows,
            "write_seconds": chunk.write_seconds,
        }
    finally:
        db.close()
