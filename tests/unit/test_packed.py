"""Packed tables behave as the sets and dicts they replace, at any size."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from switchboard.packed import PackedTable, guid_key, guid_of, id_key, text_key

KEYS = st.integers(min_value=0, max_value=(1 << 128) - 1)


@given(st.lists(st.tuples(KEYS, st.integers(-(2**63), 2**63 - 1)), max_size=3000))
def test_a_table_answers_as_a_dict_does(pairs: list[tuple[int, int]]) -> None:
    table = PackedTable(words=2, columns=1)
    expected: dict[int, int] = {}
    for key, value in pairs:
        slot, new = table.add(key, value)
        assert new == (key not in expected)
        expected.setdefault(key, value)
        assert table.value(slot) == expected[key]
    assert table.size == len(expected)
    for key, value in expected.items():
        assert table.value(table.slot(key)) == value
    for key, _value in pairs:
        assert key in table
    assert table.slot(max(expected, default=0) + 1) == -1


def test_one_word_keys_and_two_value_columns_survive_growth() -> None:
    table = PackedTable(columns=2)
    for n in range(20_000):
        table.add(text_key(f"user{n}@contoso.example"), n, -n)
    assert table.capacity >= 20_000 / 0.7
    for n in range(0, 20_000, 997):
        slot = table.slot(text_key(f"user{n}@contoso.example"))
        assert (table.value(slot, 0), table.value(slot, 1)) == (n, -n)
    assert table.nbytes() == table.capacity * (1 + 8 * 3)


def test_a_guid_is_its_own_key_and_other_ids_a_digest() -> None:
    for _ in range(100):
        text = str(uuid.uuid4())
        assert guid_key(text) == uuid.UUID(text).int == id_key(text)
        assert guid_of(id_key(text)) == text
    for other in (
        "hq-0",
        "ABCDEF01-2345-6789-ABCD-EF0123456789",
        "1234_678-1234-1234-1234-123456789012",
    ):
        assert guid_key(other) is None
        assert id_key(other) == id_key(other) and id_key(other) != id_key(other + "x")
