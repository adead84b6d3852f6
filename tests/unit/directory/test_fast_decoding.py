"""Graph pages decoded by orjson give exactly the users the standard library's decoder gives,
for any directory user Graph can send: names in any script, lone surrogate escapes, missing
and null properties, odd casing, extension attributes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.directory.graph_directory import _user
from switchboard.directory.graph_wire import decode_json
from switchboard.directory.models import USER_PROPERTIES

# Any text, lone surrogates included (JSON can escape them; orjson refuses them).
TEXT = st.text(alphabet=st.characters(codec=None), max_size=40)
NAMES = st.sampled_from(["José", "Ōtani", "Пётр", "李小龍", "محمد", "ΑΘΗΝΑ", "ǅemal", "ß", "İ"])
STRINGS = st.one_of(TEXT, NAMES, NAMES.map(str.upper), NAMES.map(str.casefold))
SCALARS = st.one_of(
    st.none(),
    STRINGS,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.lists(STRINGS, max_size=2),
)
EXTENSIONS = st.dictionaries(
    st.sampled_from([f"extensionAttribute{i}" for i in range(1, 16)]),
    st.one_of(st.none(), STRINGS),
)
FLAT = [p for p in USER_PROPERTIES if "." not in p]


@st.composite
def graph_users(draw: st.DrawFn) -> dict[str, Any]:
    user: dict[str, Any] = {"id": draw(st.uuids()).hex}
    user.update(draw(st.dictionaries(st.sampled_from(FLAT), SCALARS)))
    if draw(st.booleans()):
        user["onPremisesExtensionAttributes"] = draw(EXTENSIONS)
    if draw(st.booleans()):
        user["accountEnabled"] = draw(st.one_of(st.none(), st.booleans()))
    if draw(st.booleans()):
        user["@odata.type"] = "#microsoft.graph.user"
    return user


@settings(max_examples=300)
@given(st.lists(graph_users(), max_size=8), st.booleans())
def test_a_page_decodes_to_the_same_users_either_way(
    users: list[dict[str, Any]], ascii_only: bool
) -> None:
    page = {"@odata.nextLink": "https://graph.example/v1.0/users?$skiptoken=x", "value": users}
    try:
        body = json.dumps(page, ensure_ascii=ascii_only).encode()
    except UnicodeEncodeError:  # a lone surrogate only travels escaped
        body = json.dumps(page).encode()
    fast = decode_json(body)
    plain = json.loads(body)
    assert fast == plain
    assert [_user(o) for o in fast["value"]] == [_user(o) for o in plain["value"]]


def test_what_is_not_json_stays_an_error() -> None:
    for body in (b"", b"<html>", b"\xff\xfe{", b'{"value": [}'):
        try:
            decode_json(body)
        except ValueError:
            continue
        raise AssertionError(f"{body!r} decoded")
