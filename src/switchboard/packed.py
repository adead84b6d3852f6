"""Compact tables for runs over a million directory users.

A Python set or dict spends 70 to 150 bytes on each entry (the key object, the value object,
the slot); a run over 1,000,000 users that kept its keys that way would hold hundreds of
megabytes. ``PackedTable`` keeps integer keys and integer values in flat arrays (open
addressing, linear probing): 8 bytes per key word and per value column, about twice that with
the free slots.

Directory ids become exact 128-bit keys (``id_key``: an Entra object id is a GUID, whose bits
are the key); usernames and emails become 64-bit hashes of the process (``text_key``), which is
what ``docs/memory.md`` counts and says the odds of.
"""

from __future__ import annotations

import hashlib
import re
from array import array

MASK64 = (1 << 64) - 1
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Keys at most this share of the slots: probes stay short.
MAX_LOAD = 0.7
# A full table grows this many times over: rehashing a million keys in Python is slow.
GROWTH = 4


def guid_key(value: str) -> int | None:
    """A canonical GUID's own 128 bits (``guid_of`` gives the text back); None for any other
    text."""
    if len(value) == 36 and _GUID.fullmatch(value):
        return int(value.replace("-", ""), 16)
    return None


def id_key(value: str) -> int:
    """A directory id as a 128-bit key: a canonical GUID's own bits (exact), anything else a
    128-bit digest of it."""
    key = guid_key(value)
    if key is not None:
        return key
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=16).digest(), "big")


def guid_of(key: int) -> str:
    """The canonical GUID text of a key ``id_key`` made from one."""
    h = f"{key:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def text_key(value: str) -> int:
    """A 64-bit key of a case-folded username or email, for this process only."""
    return hash(value) & MASK64


class PackedTable:
    """Integer keys (one or two 64-bit words) with ``columns`` signed 64-bit values each."""

    def __init__(self, *, words: int = 1, columns: int = 0, expected: int = 0) -> None:
        if columns > 2:
            raise ValueError("a packed table holds at most two value columns")
        self.words = words
        self.columns = columns
        self.size = 0
        self._allocate(_capacity_for(expected))

    def _allocate(self, capacity: int) -> None:
        self._mask = capacity - 1
        self._used = bytearray(capacity)
        self._lo = array("Q", bytes(8 * capacity))
        self._hi = array("Q", bytes(8 * capacity)) if self.words == 2 else None
        self._values = [array("q", bytes(8 * capacity)) for _ in range(self.columns)]

    @property
    def capacity(self) -> int:
        return self._mask + 1

    def nbytes(self) -> int:
        """Bytes the table's arrays hold."""
        per_slot = 1 + 8 * (self.words + self.columns)
        return per_slot * self.capacity

    def slot(self, key: int) -> int:
        """The key's slot, or -1 when it is absent."""
        used, lo, hi, mask = self._used, self._lo, self._hi, self._mask
        low = key & MASK64
        high = key >> 64
        i = hash(key) & mask
        while used[i]:
            if lo[i] == low and (hi is None or hi[i] == high):
                return i
            i = (i + 1) & mask
        return -1

    def __contains__(self, key: int) -> bool:
        return self.slot(key) >= 0

    def value(self, slot: int, column: int = 0) -> int:
        return self._values[column][slot]

    def add(self, key: int, first: int = 0, second: int = 0) -> tuple[int, bool]:
        """Put the key (with its values, up to two columns, when new); its slot, and whether
        it was new."""
        if (self.size + 1) > MAX_LOAD * self.capacity:
            self._grow()
        # The probe of ``slot`` again, inline: a run calls this millions of times, and a call
        # to share it costs a tenth of the work.
        used, lo, hi, mask = self._used, self._lo, self._hi, self._mask
        low = key & MASK64
        high = key >> 64
        i = hash(key) & mask
        while used[i]:
            if lo[i] == low and (hi is None or hi[i] == high):
                return i, False
            i = (i + 1) & mask
        used[i] = 1
        lo[i] = low
        if hi is not None:
            hi[i] = high
        columns = self._values
        if columns:
            columns[0][i] = first
            if len(columns) > 1:
                columns[1][i] = second
        self.size += 1
        return i, True

    def slots(self) -> range:
        return range(self.capacity)

    def used(self, slot: int) -> bool:
        return bool(self._used[slot])

    def _grow(self) -> None:
        used, lo, hi, values = self._used, self._lo, self._hi, self._values
        self.size = 0
        self._allocate(self.capacity * GROWTH)
        for i in range(len(used)):
            if used[i]:
                key = lo[i] if hi is None else (hi[i] << 64) | lo[i]
                self.add(key, *(column[i] for column in values))


def _capacity_for(expected: int) -> int:
    capacity = 1024
    while expected > MAX_LOAD * capacity:
        capacity *= 2
    return capacity
