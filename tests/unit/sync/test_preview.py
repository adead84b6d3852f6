"""The settings preview's counting over a fake directory: users per location, values that map
to nothing, missing attributes, what a reconcile would do, the guards; nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.directory.errors import GraphForbidden
from switchboard.sync import preview as preview_module
from switchboard.sync.mapping import LocationRef
from switchboard.sync.policy import AttributeMapping, DeletionGuard, SyncPolicy
from switchboard.sync.preview import preview_scope
from tests.fakes import FakeDirectory
from tests.unit.sync.test_plan import portal

HQ = LocationRef(1, "HQ")
BRANCH = LocationRef(2, "Branch")
EMPTY = LocationRef(3, "Annex")
LOCATIONS = [HQ, BRANCH, EMPTY]
GROUP = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"


def directory(**users: dict[str, Any]) -> FakeDirectory:
    found = FakeDirectory()
    for uid, props in users.items():
        found.add_user(uid, **props)
        found.add_member(GROUP, uid)
    return found


def policy(**changes: Any) -> SyncPolicy:
    return SyncPolicy.model_validate({"groups": [GROUP], **changes})


def test_users_per_location_and_the_values_that_map_to_nothing() -> None:
    source = directory(
        a={"officeLocation": "HQ"},
        b={"officeLocation": "hq"},
        c={"officeLocation": "Chicago"},
        d={"officeLocation": "Remote"},
        e={"officeLocation": "remote"},
        f={"officeLocation": ""},
    )
    found = preview_scope(source, policy(location_rules={"Chicago": "Branch"}), LOCATIONS, [])
    assert found.read == 6
    # Every location is listed, in name order, the empty one too.
    assert found.by_location == {"Annex": 0, "Branch": 1, "HQ": 2}
    assert list(found.unmapped) == ["remote", ""]  # the most users first
    remote = found.unmapped["remote"]
    assert (remote.label, remote.count) == ("Remote", 2)
    assert remote.examples == ["d@contoso.example", "e@contoso.example"]
    assert found.unmapped[""].count == 1
    assert found.unmapped_users == 3
    assert found.outcomes == {"create": 3, "error": 3}
    assert found.ready == 3
    assert source.writes == []


def test_a_default_location_takes_every_unmapped_value() -> None:
    source = directory(a={"officeLocation": "Remote"}, b={"officeLocation": "HQ"})
    found = preview_scope(source, policy(default_location="Branch"), LOCATIONS, [])
    assert found.by_location == {"Annex": 0, "Branch": 1, "HQ": 1}
    assert found.unmapped == {}


def test_missing_attributes_per_attribute_with_examples() -> None:
    source = directory(
        a={"givenName": ""},
        b={"givenName": "", "surname": ""},
        c={"mail": "", "userPrincipalName": "c@contoso.example"},
        d={},
    )
    found = preview_scope(source, policy(), LOCATIONS, [])
    # The UPN stands in for an empty mail (the default fallback).
    assert {k: t.count for k, t in found.missing.items()} == {"first name": 2, "last name": 1}
    assert found.missing["first name"].examples == ["a@contoso.example", "b@contoso.example"]
    assert found.missing_users == 2
    no_fallback = policy(mapping={"email_fallback": ""})
    assert no_fallback.mapping.email_fallback is None
    found = preview_scope(source, no_fallback, LOCATIONS, [])
    assert found.missing["email"].count == 1 and found.missing_users == 3


def test_another_mapping_reads_other_sources() -> None:
    source = directory(
        a={"onPremisesExtensionAttributes": {"extensionAttribute3": "Branch"}, "jobTitle": "X"},
        b={"officeLocation": "Branch"},
    )
    mapping = AttributeMapping(
        location="onPremisesExtensionAttributes.extensionAttribute3", first_name="jobTitle"
    )
    found = preview_scope(source, policy(mapping=mapping.model_dump()), LOCATIONS, [])
    assert found.by_location["Branch"] == 1
    assert found.unmapped[""].examples == ["b@contoso.example"]
    assert found.missing["first name"].examples == ["b@contoso.example"]


def test_what_a_reconcile_would_do_with_the_portal_as_it_is() -> None:
    source = directory(
        kept={},
        moved={"officeLocation": "Branch"},
        new={},
        twin={"mail": "kept@contoso.example"},  # the email of another user in scope
    )
    users = [portal(1, "kept"), portal(2, "moved"), portal(3, "gone"), portal(4, "left")]
    found = preview_scope(
        source, policy(deletion_guard={"max_percent": 10, "max_count": 1}), LOCATIONS, users
    )
    assert found.outcomes == {"create": 1, "relocate": 1, "unchanged": 1, "error": 1}
    duplicate = found.problems["duplicate_email"]
    assert duplicate.count == 1 and duplicate.examples == ["twin@contoso.example"]
    assert duplicate.label == "Email used by another user"
    assert found.deletions == 2
    assert found.hold is not None and "delete 2 of 4" in found.hold
    relaxed = policy(deletion_guard=DeletionGuard(max_count=5).model_dump())
    assert preview_scope(source, relaxed, LOCATIONS, users).hold is None


def test_manual_provisioning_offers_instead_of_creating() -> None:
    found = preview_scope(directory(a={}), policy(provisioning="manual"), LOCATIONS, [])
    assert found.outcomes == {"offered": 1}


def test_bounded_examples_and_values(monkeypatch: Any) -> None:
    monkeypatch.setattr(preview_module, "UNMAPPED_VALUES_MAX", 2)
    source = directory(**{f"u{n:02}": {"officeLocation": f"Office {n % 4}"} for n in range(20)})
    found = preview_scope(source, policy(), LOCATIONS, [])
    assert len(found.unmapped) == 2
    assert all(len(t.examples) == preview_module.EXAMPLES for t in found.unmapped.values())
    assert found.unmapped_users == 20 and found.unmapped_unlisted == 10


def test_the_answer_as_json_data() -> None:
    found = preview_scope(directory(a={"officeLocation": "Mars"}), policy(), LOCATIONS, [])
    data = found.as_dict()
    assert data["users"] == 1
    assert data["unmapped_values"] == [
        {"value": "mars", "label": "Mars", "users": 1, "examples": ["a@contoso.example"]}
    ]
    assert data["locations"] == [
        {"location": "Annex", "users": 0},
        {"location": "Branch", "users": 0},
        {"location": "HQ", "users": 0},
    ]


def test_a_read_failure_propagates_to_the_caller() -> None:
    source = directory(a={})
    source.read_breaks_after = (0, GraphForbidden("Insufficient privileges", status=403))
    with pytest.raises(GraphForbidden):
        preview_scope(source, policy(), LOCATIONS, [])
