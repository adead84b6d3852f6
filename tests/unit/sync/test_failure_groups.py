"""A run's failures grouped by cause, each in words with its fix."""

from __future__ import annotations

from switchboard.sync.failure_groups import (
    UserRef,
    cause_of,
    count_words,
    field_words,
    group_failures,
    in_words,
)

REMOTE = (
    "officeLocation is 'Remote' and matches no location; add a location rule for it or a"
    " default location in the sync settings"
)
EMPTY_OFFICE = (
    "officeLocation is empty and matches no location; add a location rule for it or a default"
    " location in the sync settings"
)
NO_MAIL = (
    "mail (email) is empty in Entra ID and there is no fallback; set the user's mail in Entra ID"
)
NO_SURNAME = (
    "surname (last name) is empty in Entra ID; fill it in there or map the last name to another"
    " property"
)


def user(name: str, message: str) -> UserRef:
    return UserRef(f"{name}@contoso.example", name, None, message)


def test_users_with_the_same_unmapped_office_are_one_group_with_its_fixes() -> None:
    groups = group_failures(
        [
            ("unmapped_location", REMOTE, 12),
            ("unmapped_location", REMOTE.replace("Remote", "remote"), 3),
            ("missing_attribute", NO_MAIL, 2),
        ],
        [("unmapped_location", user("ada", REMOTE)), ("missing_attribute", user("bob", NO_MAIL))],
    )
    first, second = groups
    assert first.count == 15  # the office ignoring case, as the location rules match it
    assert first.cause.text == "office 'Remote' matches no location"
    rule, create = first.cause.fixes
    assert (rule.text, rule.page) == ("Add a location rule for 'Remote'", "mapping")
    assert (create.text, create.page) == ("or create a location named 'Remote'", "locations")
    assert [u.username for u in first.users] == ["ada@contoso.example"]
    assert second.count == 2
    assert second.cause.text == "email is empty in Entra ID"
    assert second.cause.fixes[0].text == "Fill in the user's email in Entra ID"


def test_each_cause_in_words() -> None:
    assert cause_of("unmapped_location", EMPTY_OFFICE).text == (
        "office is empty and there is no default location"
    )
    assert cause_of("missing_attribute", NO_SURNAME).text == "last name is empty in Entra ID"
    assert cause_of("duplicate_email", "another Entra ID user ...").text == (
        "another user has the same email"
    )
    ambiguous = cause_of("ambiguous_match", "Ada Lovelace matches several portal users: ...")
    assert ambiguous.fixes[0].page == "users"
    # A cause this module does not know: the message itself, its field name in words.
    other = cause_of("number_assigned", "location_id: the number belongs to another location")
    assert other.text == "location: the number belongs to another location"


def test_groups_are_largest_first_and_list_a_bounded_number_of_users() -> None:
    many = [("missing_attribute", user(f"u{i}", NO_SURNAME)) for i in range(80)]
    groups = group_failures(
        [("conflict", "a concurrent change conflicted", 1), ("missing_attribute", NO_SURNAME, 80)],
        many,
        per_group=50,
    )
    assert [g.count for g in groups] == [80, 1]
    assert len(groups[0].users) == 50


def test_field_and_count_names_in_words() -> None:
    assert field_words("location_id") == "location"
    assert field_words("first_name") == "first name"
    assert field_words("phone_numbers.0") == "phone numbers"
    assert field_words("some_new_field") == "some new field"
    assert count_words("write_back_blocked") == "write-backs blocked"
    assert count_words("pending") == "held for approval"
    assert in_words("first_name: is required") == "first name: is required"
    assert in_words("deleted in Entra ID") == "deleted in Entra ID"
