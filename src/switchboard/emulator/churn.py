"""Churn: a stream of realistic directory changes for demos and benchmarks.

Each step is one of: rename or retitle, office move, create, disable/enable, soft delete,
restore, permanent delete, or a group move. Every step goes through the same Directory methods
as the Graph write API, so it shows up in delta and in notifications exactly alike.
"""

from __future__ import annotations

import random
from collections import Counter

from switchboard.emulator.directory import Directory
from switchboard.emulator.directory_objects import DirectoryError, new_id
from switchboard.emulator.seed import GIVEN_NAMES, OFFICE_LOCATIONS, SURNAMES, TITLES

STEPS: tuple[tuple[str, int], ...] = (
    ("update", 30),
    ("move_office", 10),
    ("create", 15),
    ("toggle_enabled", 10),
    ("soft_delete", 10),
    ("restore", 7),
    ("purge", 3),
    ("group_move", 15),
)


class Churner:
    def __init__(self, directory: Directory, seed: int = 0) -> None:
        self.directory = directory
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data
        self.done: Counter[str] = Counter()
        self._ids: list[str] = []
        self._steps_since_refresh = 0

    def run(self, count: int) -> Counter[str]:
        made: Counter[str] = Counter()
        for _ in range(count):
            made[self.step()] += 1
        return made

    def _pick_active(self) -> str | None:
        d = self.directory
        for _ in range(20):
            uid = self._sample_user()
            if uid is None:
                return None
            user = d.users.get(uid)
            if user is not None and user.deleted_at is None:
                return uid
        return None

    def forget_ids(self) -> None:
        """Drop the cached ids (the directory was reset): the next step reads them afresh."""
        self._ids = []

    def _sample_user(self) -> str | None:
        # A cached id list, refreshed now and then: copying 100,000 keys per step would make
        # churn cost O(tenant size). Stale ids are skipped by the caller.
        if not self._ids or self._steps_since_refresh > 500:
            self._ids = list(self.directory.users)
            self._steps_since_refresh = 0
        return self.rng.choice(self._ids) if self._ids else None

    def _sample_group(self) -> str:
        return self.rng.choice(list(self.directory.groups))

    def step(self) -> str:
        names = [n for n, _w in STEPS]
        weights = [w for _n, w in STEPS]
        kind = self.rng.choices(names, weights)[0]
        self._steps_since_refresh += 1
        try:
            ok = getattr(self, f"_{kind}")()
        except DirectoryError:
            ok = False
        if not ok:
            kind = "create"
            self._create()
        self.done[kind] += 1
        return kind

    def _update(self) -> bool:
        uid = self._pick_active()
        if uid is None:
            return False
        given, _ = self.rng.choice(GIVEN_NAMES)
        surname = self.directory.users[uid].get("surname")
        display = f"{given} {surname}" if surname else given
        self.directory.update_user(
            uid, {"givenName": given, "displayName": display, "jobTitle": self.rng.choice(TITLES)}
        )
        return True

    def _move_office(self) -> bool:
        uid = self._pick_active()
        if uid is None:
            return False
        office = self.rng.choice([n for n, _w in OFFICE_LOCATIONS])
        self.directory.update_user(uid, {"officeLocation": office})
        return True

    def _create(self) -> bool:
        d = self.directory
        given, g_ascii = self.rng.choice(GIVEN_NAMES)
        surname, s_ascii = self.rng.choice(SURNAMES)
        uid = new_id(self.rng)
        # A churner seeded like the seed draws ids from the same random stream, so an id can
        # come round again: draw another rather than fail the step.
        while uid in d.users or uid in d.groups or uid in d.user_tombstones:
            uid = new_id(self.rng)
        upn = f"{g_ascii}.{s_ascii}.{uid[:6]}@{d.domain}"
        user = d.create_user(
            {
                "userPrincipalName": upn,
                "displayName": f"{given} {surname}",
                "givenName": given,
                "surname": surname,
                "mail": upn,
                "accountEnabled": True,
                "officeLocation": self.rng.choice(["HQ", "Branch"]),
                "jobTitle": self.rng.choice(TITLES),
            },
            object_id=uid,
        )
        if d.groups:
            d.add_member(self._sample_group(), user.id)
        return True

    def _toggle_enabled(self) -> bool:
        uid = self._pick_active()
        if uid is None:
            return False
        enabled = bool(self.directory.users[uid].get("accountEnabled"))
        self.directory.update_user(uid, {"accountEnabled": not enabled})
        return True

    def _soft_delete(self) -> bool:
        uid = self._pick_active()
        if uid is None:
            return False
        self.directory.delete_user(uid)
        return True

    def _deleted(self) -> str | None:
        deleted = [u.id for u in self.directory.deleted_users()]
        return self.rng.choice(deleted) if deleted else None

    def _restore(self) -> bool:
        uid = self._deleted()
        if uid is None:
            return False
        self.directory.restore_user(uid)
        return True

    def _purge(self) -> bool:
        uid = self._deleted()
        if uid is None:
            return False
        self.directory.purge_user(uid)
        return True

    def _group_move(self) -> bool:
        d = self.directory
        uid = self._pick_active()
        if uid is None or len(d.groups) < 2:
            return False
        current = sorted(d.member_of.get(uid))
        target = self._sample_group()
        if target in current:
            return False
        if current:
            d.remove_member(self.rng.choice(current), uid)
        d.add_member(target, uid)
        return True
