"""SCIM list parameters and the attributes a listed resource shows."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.scim.errors import ScimError
from switchboard.scim.listing import DEFAULT_COUNT, MAX_COUNT, list_query, project

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def user() -> dict[str, Any]:
    return {
        "schemas": [CORE, ENTERPRISE],
        "id": "u1",
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        "active": True,
        ENTERPRISE: {"department": "Sales"},
        "meta": {"resourceType": "User", "lastModified": "2026-01-15T09:00:00Z"},
    }


def invalid(params: dict[str, Any]) -> ScimError:
    with pytest.raises(ScimError) as caught:
        list_query(params, "User")
    assert caught.value.status == 400 and caught.value.scim_type == "invalidValue"
    return caught.value


def test_defaults() -> None:
    q = list_query({}, "User")
    assert (q.start_index, q.count, q.sort_by, q.descending, q.filter) == (
        1,
        DEFAULT_COUNT,
        None,
        False,
        None,
    )
    assert q.order_by() == ()


@pytest.mark.parametrize(
    ("given", "start", "count"),
    [
        ({"startIndex": "0", "count": "-5"}, 1, 0),
        ({"startIndex": "-3", "count": "5000"}, 1, MAX_COUNT),
        ({"startIndex": " 7 ", "count": "0"}, 7, 0),
        ({"startindex": 3, "COUNT": 10}, 3, 10),
        ({"startIndex": "9" * 25}, 2**31 - 1, DEFAULT_COUNT),
    ],
)
def test_start_index_and_count_are_brought_into_range(
    given: dict[str, Any], start: int, count: int
) -> None:
    q = list_query(given, "User")
    assert (q.start_index, q.count) == (start, count)


def test_numbers_that_are_not_whole_numbers_are_refused() -> None:
    assert "startIndex" in invalid({"startIndex": "first"}).detail
    assert "count" in invalid({"count": "1.5"}).detail


def test_sort_by_is_checked_against_the_resource() -> None:
    q = list_query({"sortBy": "name.familyName", "sortOrder": "Descending"}, "User")
    assert q.descending and len(q.order_by()) == 1
    assert '"title"' in invalid({"sortBy": "title"}).detail
    with pytest.raises(ScimError, match="groups here cannot be sorted by"):
        list_query({"sortBy": "members"}, "Group")
    assert "sortOrder" in invalid({"sortBy": "userName", "sortOrder": "upwards"}).detail


def test_attribute_lists_are_read_and_checked() -> None:
    q = list_query({"attributes": "userName, name.givenName,,", "excludedAttributes": ""}, "User")
    assert q.attributes == ("userName", "name.givenName")
    assert q.excluded == ()
    assert "not an attribute name" in invalid({"attributes": "user name"}).detail


def test_a_search_body_gives_lists_and_numbers() -> None:
    q = list_query(
        {"attributes": ["userName"], "startIndex": 2, "filter": "active eq true"}, "User"
    )
    assert (q.attributes, q.start_index, q.filter) == (("userName",), 2, "active eq true")


def test_attributes_keep_only_what_was_asked_and_what_is_always_returned() -> None:
    shown = project(user(), ["USERNAME", "name.givenName", "emails.value"], [])
    assert shown == {
        "schemas": [CORE, ENTERPRISE],
        "id": "u1",
        "userName": "ada@example.com",
        "name": {"givenName": "Ada"},
        "emails": [{"value": "ada@example.com"}],
        "meta": {"resourceType": "User"},
    }


def test_urn_qualified_names_select_core_and_extension_attributes() -> None:
    shown = project(user(), [f"{CORE}:userName", f"{ENTERPRISE}:department"], [])
    assert shown["userName"] == "ada@example.com"
    assert shown[ENTERPRISE] == {"department": "Sales"}
    assert "name" not in shown
    whole = project(user(), [ENTERPRISE], [])
    assert whole[ENTERPRISE] == {"department": "Sales"} and "active" not in whole


def test_excluded_attributes_drop_what_is_not_always_returned() -> None:
    shown = project(
        user(), [], ["name.familyName", "emails", f"{ENTERPRISE}:department", "id", "meta"]
    )
    assert shown["name"] == {"givenName": "Ada", "formatted": "Ada Lovelace"}
    assert "emails" not in shown and ENTERPRISE not in shown
    assert shown["id"] == "u1"
    assert shown["meta"] == {"resourceType": "User"}


def test_unknown_names_select_nothing_and_exclude_nothing() -> None:
    assert project(user(), [], ["title", "urn:example:Thing:x"]) == user()
    assert set(project(user(), ["title"], [])) == {"schemas", "id", "meta"}


def test_overlong_parameters_are_refused_but_a_filter_is_left_to_the_filter_rules() -> None:
    assert "attributes" in invalid({"attributes": "a," * 1001}).detail
    assert list_query({"filter": "userName pr or " * 200}, "User").filter is not None
