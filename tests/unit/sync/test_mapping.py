"""Mapping a directory user to what the portal should hold: the fields Entra ID owns (names,
email, username, location), each read by the account's mapping, or an error an admin can act on."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.directory.models import DirectoryUser
from switchboard.portal.users import DIRECTORY_OWNED
from switchboard.sync.mapping import (
    USERNAME_MAX,
    Desired,
    LocationRef,
    MappingError,
    map_user,
    resolve_location,
)
from switchboard.sync.policy import AttributeMapping, SyncPolicy

HQ = LocationRef(1, "HQ")
BRANCH = LocationRef(2, "Branch")
# As the engine passes them: by name, ignoring case.
LOCATIONS = {location.name.casefold(): location for location in (HQ, BRANCH)}
POLICY = SyncPolicy()


def entra(**props: Any) -> DirectoryUser:
    """Ada as Entra ID returns her; a property given as None is absent."""
    base: dict[str, Any] = {
        "id": "u1",
        "userPrincipalName": "ada@contoso.example",
        "givenName": "Ada",
        "surname": "Lovelace",
        "mail": "ada.lovelace@contoso.example",
        "officeLocation": "HQ",
    }
    base.update(props)
    return DirectoryUser("u1", {k: v for k, v in base.items() if v is not None})


def desired(user: DirectoryUser, policy: SyncPolicy = POLICY) -> Desired:
    result = map_user(user, policy, LOCATIONS)
    assert isinstance(result, Desired), result
    return result


def error(user: DirectoryUser, policy: SyncPolicy = POLICY) -> MappingError:
    result = map_user(user, policy, LOCATIONS)
    assert isinstance(result, MappingError), result
    return result


def test_a_complete_user_maps_to_every_field_entra_id_owns() -> None:
    assert desired(entra()) == Desired(
        username="ada@contoso.example",
        first_name="Ada",
        last_name="Lovelace",
        email="ada.lovelace@contoso.example",
        location=HQ,
    )


def test_the_mapping_yields_exactly_the_fields_the_portal_locks_on_directory_users() -> None:
    # The portal refuses edits of DIRECTORY_OWNED on directory users because the sync sets them.
    mapped = {f.name for f in dataclasses.fields(Desired)}
    assert {"location_id" if name == "location" else name for name in mapped} == set(
        DIRECTORY_OWNED
    )


def test_values_are_trimmed_and_the_email_domain_normalised() -> None:
    result = desired(
        entra(
            userPrincipalName="  ada@contoso.example ",
            givenName=" Ada ",
            surname="Lovelace\t",
            mail="Ada.Lovelace@CONTOSO.example",
        )
    )
    assert (result.username, result.first_name, result.last_name) == (
        "ada@contoso.example",
        "Ada",
        "Lovelace",
    )
    assert result.email == "Ada.Lovelace@contoso.example"


def test_a_list_value_gives_its_first_value() -> None:
    two = ["first@contoso.example", "second@contoso.example"]
    assert desired(entra(mail=two)).email == "first@contoso.example"
    # An empty list is no value: the fallback (the UPN) applies.
    assert desired(entra(mail=[])).email == "ada@contoso.example"


def test_names_and_location_come_from_the_mapped_properties() -> None:
    policy = SyncPolicy(
        mapping=AttributeMapping(
            first_name="displayName",
            last_name="department",
            location="onPremisesExtensionAttributes.extensionAttribute3",
        )
    )
    user = entra(
        displayName="Augusta",
        department="Byron",
        onPremisesExtensionAttributes={"extensionAttribute3": "branch"},
    )
    result = desired(user, policy)
    assert (result.first_name, result.last_name, result.location) == ("Augusta", "Byron", BRANCH)


def test_the_email_falls_back_to_the_upn_unless_there_is_no_fallback() -> None:
    assert desired(entra(mail=None)).email == "ada@contoso.example"
    assert desired(entra(mail="   ")).email == "ada@contoso.example"
    no_fallback = SyncPolicy(mapping=AttributeMapping(email_fallback=None))
    assert error(entra(mail=None), no_fallback) == MappingError(
        "missing_attribute",
        "mail (email) is empty in Entra ID and there is no fallback; set the user's mail in"
        " Entra ID",
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"givenName": None},
            "givenName (first name) is empty in Entra ID; fill it in there or map the first"
            " name to another property",
        ),
        (
            {"surname": " "},
            "surname (last name) is empty in Entra ID; fill it in there or map the last name to"
            " another property",
        ),
        ({"givenName": 42}, "givenName (first name) is empty in Entra ID"),
        ({"userPrincipalName": None}, "userPrincipalName is empty in Entra ID"),
    ],
)
def test_a_missing_value_is_named_with_what_to_do(props: dict[str, Any], message: str) -> None:
    found = error(entra(**props))
    assert found.code == "missing_attribute"
    assert found.message.startswith(message)


@pytest.mark.parametrize(
    "upn",
    [
        "ada lovelace@contoso.example",
        "ada\u200b@contoso.example",  # zero-width space
        "ada\x07@contoso.example",
        "a" * (USERNAME_MAX - len("@contoso.example") + 1) + "@contoso.example",
    ],
)
def test_a_upn_that_cannot_be_a_portal_username_is_refused(upn: str) -> None:
    assert error(entra(userPrincipalName=upn)) == MappingError(
        "invalid_attribute",
        f"the userPrincipalName from Entra ID must be at most {USERNAME_MAX} characters without"
        " spaces, control or invisible characters to be a portal username",
    )


def test_the_longest_upn_a_username_can_hold_is_kept() -> None:
    upn = "a" * (USERNAME_MAX - len("@contoso.example")) + "@contoso.example"
    assert desired(entra(userPrincipalName=upn)).username == upn


def test_a_name_the_portal_would_refuse_is_an_error_naming_the_field() -> None:
    found = error(entra(surname="Love\u202elace"))
    assert found.code == "invalid_attribute"
    assert found.message.startswith("the last name from Entra ID must not contain invisible")
    assert error(entra(givenName="x" * 101)).message == (
        "the first name from Entra ID must be at most 100 characters"
    )


def test_an_invalid_email_is_quoted_in_its_error() -> None:
    found = error(entra(mail="ada at contoso"))
    assert found.code == "invalid_email"
    assert found.message.startswith("the email 'ada at contoso' from Entra ID is not a valid")


def test_location_rules_then_location_names_then_the_default() -> None:
    policy = SyncPolicy(location_rules={"Chicago Office": "hq"}, default_location="Branch")
    # A rule, its value matched ignoring case and spaces around it; its target by name too.
    assert resolve_location(" CHICAGO office ", policy, LOCATIONS) == HQ
    # No rule: a location of that name, ignoring case.
    assert resolve_location("branch", policy, LOCATIONS) == BRANCH
    # Neither: the default; no value at all: the default as well.
    assert resolve_location("Somewhere", policy, LOCATIONS) == BRANCH
    assert resolve_location("", policy, LOCATIONS) == BRANCH
    # Without a default, nothing.
    assert resolve_location("Somewhere", POLICY, LOCATIONS) is None


def test_a_rule_to_a_location_that_does_not_exist_does_not_fall_back_to_the_default() -> None:
    # The rule is the admin's explicit choice: a missing target is reported, not replaced.
    policy = SyncPolicy(location_rules={"Chicago": "Closed Office"}, default_location="HQ")
    assert resolve_location("chicago", policy, LOCATIONS) is None


def test_an_unmapped_location_says_what_to_add() -> None:
    assert error(entra(officeLocation="Mars")) == MappingError(
        "unmapped_location",
        "officeLocation is 'Mars' and matches no location; add a location rule for it or a"
        " default location in the sync settings",
    )
    assert error(entra(officeLocation=None)).message.startswith("officeLocation is empty and")


PROPERTIES = ["userPrincipalName", "givenName", "surname", "mail", "officeLocation"]
VALUES = st.one_of(
    st.none(), st.text(max_size=300), st.lists(st.text(max_size=40), max_size=2), st.integers()
)


@given(st.dictionaries(st.sampled_from(PROPERTIES), VALUES))
def test_any_directory_values_map_to_valid_portal_fields_or_an_error(
    props: dict[str, Any],
) -> None:
    policy = SyncPolicy(default_location="HQ")
    result = map_user(entra(**props), policy, LOCATIONS)
    if isinstance(result, MappingError):
        assert result.code in {
            "missing_attribute",
            "invalid_attribute",
            "invalid_email",
            "unmapped_location",
        }
        assert "Entra ID" in result.message or result.code == "unmapped_location"
        return
    assert result.username and len(result.username) <= USERNAME_MAX
    assert not any(c.isspace() for c in result.username)
    for name in (result.first_name, result.last_name):
        assert name and name == name.strip()
    assert "@" in result.email
    assert result.location in (HQ, BRANCH)
