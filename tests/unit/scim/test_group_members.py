"""The member shapes a group PATCH may carry, read without a database."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.scim.errors import ScimError
from switchboard.scim.group_members import MemberChange, member_change, member_ids

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.mark.parametrize(
    ("op", "path", "value", "expected"),
    [
        # Entra: add and remove with a value list.
        ("add", "members", [{"value": "u1"}, {"value": "u2"}], MemberChange("add", ("u1", "u2"))),
        ("remove", "members", [{"value": "u1"}], MemberChange("remove", ("u1",))),
        ("add", "Members", [{"Value": "u1", "$ref": None}], MemberChange("add", ("u1",))),
        # RFC 7644: a filter selects the members to remove.
        ("remove", 'members[value eq "u1"]', None, MemberChange("remove", ("u1",))),
        (
            "remove",
            'members[value eq "u1" or value eq "u2"]',
            None,
            MemberChange("remove", ("u1", "u2")),
        ),
        # RFC 7644: remove with no value takes every member.
        ("remove", "members", None, MemberChange("remove", None)),
        # Okta's group push: the full list.
        (
            "replace",
            "members",
            [{"value": "u2", "display": "bob@example.com"}],
            MemberChange("replace", ("u2",)),
        ),
        ("replace", "members", [], MemberChange("replace", ())),
        # One object for a one-item list; the same id twice is one member.
        ("add", "members", {"value": "u1"}, MemberChange("add", ("u1",))),
        ("add", "members", [{"value": "u1"}, {"value": " u1 "}], MemberChange("add", ("u1",))),
        ("add", f"{GROUP_URN}:members", [{"value": "u1"}], MemberChange("add", ("u1",))),
        ("add", "members", [{"value": "u1", "type": "User"}], MemberChange("add", ("u1",))),
    ],
)
def test_member_shapes(op: str, path: str, value: Any, expected: MemberChange) -> None:
    assert member_change(op, path, value) == expected


@pytest.mark.parametrize("path", [None, "displayName", "externalId", f"{GROUP_URN}:displayName"])
def test_other_paths_are_not_about_members(path: str | None) -> None:
    assert member_change("replace", path, "Sales") is None


@pytest.mark.parametrize(
    ("op", "path", "value", "scim_type", "words"),
    [
        ("remove", 'members[display eq "ada"]', None, "invalidFilter", "is not supported"),
        ("remove", 'members[value co "u"]', None, "invalidFilter", "is not supported"),
        ("add", 'members[value eq "u1"]', {"value": "u1"}, "invalidPath", "can only remove"),
        ("remove", 'members[value eq "u1"].display', None, "invalidPath", "can only remove"),
        ("replace", "members.value", "u1", "invalidPath", "change members as a whole"),
        ("add", "members", "u1", "invalidValue", "must be a list"),
        ("add", "members", ["u1"], "invalidValue", "must be an object"),
        ("add", "members", [{"display": "ada"}], "invalidValue", "needs a value"),
        ("add", "members", [{"value": ""}], "invalidValue", "needs a value"),
        ("add", "members", [{"value": 7}], "invalidValue", "needs a value"),
        ("add", "members", [{"value": "g1", "type": "Group"}], "invalidValue", "are users"),
    ],
)
def test_refused_shapes(op: str, path: str, value: Any, scim_type: str, words: str) -> None:
    with pytest.raises(ScimError) as refused:
        member_change(op, path, value)
    assert refused.value.status == 400
    assert refused.value.scim_type == scim_type
    assert words in refused.value.detail


def test_member_ids_keep_order() -> None:
    assert member_ids([{"value": "b"}, {"value": "a"}, {"value": "b"}]) == ("b", "a")
    assert member_ids(None) == ()
