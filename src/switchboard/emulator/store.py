"""Persistence of the emulated tenant in DIR/directory.sqlite3.

SQLite rather than a JSON snapshot: the working set lives in memory, and only the objects
changed since the last save are written (one row per object), so a 100,000-user tenant under
churn costs a few row writes per save instead of rewriting a 100 MB file; WAL keeps every save
atomic, so a crash leaves the last complete save.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from switchboard.emulator.directory import Directory

SAVE_BATCH = 5_000
SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists users (id text primary key, data text not null);
create table if not exists groups (id text primary key, data text not null);
create table if not exists tombstones (id text primary key, kind text not null,
                                       version integer not null);
create table if not exists subscriptions (id text primary key, data text not null);
"""


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "directory.sqlite3"
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("pragma journal_mode=wal")
        self.conn.execute("pragma synchronous=normal")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("select key, value from meta")}

    def has_directory(self) -> bool:
        return "tenant_id" in self.meta()

    def load(self, directory: Directory) -> list[dict[str, Any]]:
        """Fill ``directory``; returns the stored subscriptions."""
        users = ((i, json.loads(d)) for i, d in self.conn.execute("select id, data from users"))
        groups = ((i, json.loads(d)) for i, d in self.conn.execute("select id, data from groups"))
        tombs = self.conn.execute("select id, kind, version from tombstones").fetchall()
        directory.load_rows(
            users,
            groups,
            {i: v for i, k, v in tombs if k == "users"},
            {i: v for i, k, v in tombs if k == "groups"},
        )
        directory.version = int(self.meta().get("version", 0))
        return [json.loads(d) for (d,) in self.conn.execute("select data from subscriptions")]

    def save(
        self,
        directory: Directory,
        meta: dict[str, Any],
        subscriptions: list[dict[str, Any]],
        *,
        full: bool = False,
    ) -> int:
        """Write what changed since the last save (everything when ``full``); one transaction."""
        d = directory
        user_ids = list(d.users) + list(d.user_tombstones) if full else list(d.dirty_users)
        group_ids = list(d.groups) + list(d.group_tombstones) if full else list(d.dirty_groups)
        d.dirty_users = set()
        d.dirty_groups = set()
        c = self.conn
        c.execute("begin")
        try:
            if full:
                for table in ("users", "groups", "tombstones"):
                    c.execute(f"delete from {table}")  # noqa: S608 - fixed table names
            written = 0
            # In batches: the rows of a million users at once would hold ~700 MB of JSON.
            for start in range(0, len(user_ids), SAVE_BATCH):
                written += self._save_users(d, user_ids[start : start + SAVE_BATCH])
            for start in range(0, len(group_ids), SAVE_BATCH):
                written += self._save_groups(d, group_ids[start : start + SAVE_BATCH])
            c.execute("delete from subscriptions")
            c.executemany(
                "insert into subscriptions values (?, ?)",
                [(s["id"], json.dumps(s)) for s in subscriptions],
            )
            c.executemany(
                "insert or replace into meta values (?, ?)",
                [(k, json.dumps(v)) for k, v in {**meta, "version": d.version}.items()],
            )
            c.execute("commit")
        except BaseException:
            c.execute("rollback")
            d.dirty_users.update(user_ids)
            d.dirty_groups.update(group_ids)
            raise
        return written

    def _save_users(self, d: Directory, ids: list[str]) -> int:
        rows, tombs, gone = [], [], []
        for uid in ids:
            user = d.users.get(uid)
            if user is not None:
                rows.append((uid, json.dumps(Directory.user_row(user))))
            else:
                gone.append((uid,))
                if uid in d.user_tombstones:
                    tombs.append((uid, "users", d.user_tombstones[uid]))
        c = self.conn
        c.executemany("insert or replace into users values (?, ?)", rows)
        c.executemany("insert or replace into tombstones values (?, ?, ?)", tombs)
        c.executemany("delete from users where id = ?", gone)
        return len(rows) + len(tombs)

    def _save_groups(self, d: Directory, ids: list[str]) -> int:
        rows, tombs, gone = [], [], []
        for gid in ids:
            group = d.groups.get(gid)
            if group is not None:
                rows.append((gid, json.dumps(Directory.group_row(group))))
            else:
                gone.append((gid,))
                if gid in d.group_tombstones:
                    tombs.append((gid, "groups", d.group_tombstones[gid]))
        c = self.conn
        c.executemany("insert or replace into groups values (?, ?)", rows)
        c.executemany("insert or replace into tombstones values (?, ?, ?)", tombs)
        c.executemany("delete from groups where id = ?", gone)
        return len(rows) + len(tombs)
