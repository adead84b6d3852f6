"""SCIM filters: what SQL each operator becomes, and the errors a client reads."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from switchboard.db.scim_models import ScimGroup, ScimUser
from switchboard.scim.errors import ScimError
from switchboard.scim.filters import MAX_DEPTH, group_condition, user_condition

# Compiling needs the dialect only, never a connection.
POSTGRESQL = create_engine("postgresql+psycopg://").dialect


def sql(condition: ColumnElement[bool], dialect: Dialect | None = None) -> str:
    statement = select(ScimUser.id).where(condition)
    compiled = statement.compile(
        dialect=dialect or sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled).split("WHERE", 1)[1].strip()


def refused(filter_text: str, *, groups: bool = False) -> ScimError:
    with pytest.raises(ScimError) as caught:
        (group_condition if groups else user_condition)(filter_text)
    error = caught.value
    assert error.status == 400
    assert error.scim_type == "invalidFilter"
    return error


# ---- operators ----------------------------------------------------------------------------


def test_eq_on_user_name_compares_the_case_folded_key() -> None:
    assert sql(user_condition('userName eq "Straße@Example.COM"')) == (
        "scim_users.user_name_key = 'strasse@example.com'"
    )


def test_attribute_names_and_operators_ignore_case_and_take_the_core_urn() -> None:
    plain = sql(user_condition('userName eq "a"'))
    assert sql(user_condition('USERNAME EQ "A"')) == plain
    assert sql(user_condition('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"')) == (
        plain
    )


def test_ne_is_the_negation_of_eq_so_an_absent_value_is_not_equal() -> None:
    assert sql(user_condition('displayName ne "Ada"')) == (
        "NOT (scim_users.display_name_key IS NOT NULL AND scim_users.display_name_key = 'ada')"
    )


@pytest.mark.parametrize(
    ("op", "pattern"),
    [("co", "'%a\\%b\\_c\\\\%'"), ("sw", "'a\\%b\\_c\\\\%'"), ("ew", "'%a\\%b\\_c\\\\'")],
)
def test_co_sw_ew_on_case_insensitive_attributes_are_escaped_like_patterns(
    op: str, pattern: str
) -> None:
    text = sql(user_condition(f'emails.value {op} "A%B_C\\\\"'))
    assert f"scim_users.email_key LIKE {pattern} ESCAPE '\\'" in text


def test_co_sw_ew_on_case_exact_attributes_do_not_use_like() -> None:
    # SQLite's LIKE ignores ASCII case; externalId is case-exact (RFC 7643).
    assert "instr(scim_users.external_id, 'Ab') > 0" in sql(user_condition('externalId co "Ab"'))
    assert "strpos(scim_users.external_id, 'Ab') > 0" in sql(
        user_condition('externalId co "Ab"'), POSTGRESQL
    )
    assert "substr(scim_users.external_id, 1, 2) = 'Ab'" in sql(
        user_condition('externalId sw "Ab"')
    )
    assert "LIKE" not in sql(user_condition('externalId ew "Ab"'))


@pytest.mark.parametrize(("op", "sign"), [("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")])
def test_ordering_of_strings_is_by_code_points(op: str, sign: str) -> None:
    assert sql(user_condition(f'userName {op} "M"')) == f"scim_users.user_name_key {sign} 'm'"
    assert sql(user_condition(f'userName {op} "M"'), POSTGRESQL) == (
        f"(scim_users.user_name_key) COLLATE \"C\" {sign} 'm'"
    )


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
def test_dates_compare_as_instants(op: str) -> None:
    text = sql(user_condition(f'meta.lastModified {op} "2026-01-15T10:00:00+01:00"'))
    assert "scim_users.updated_at" in text
    assert "2026-01-15 09:00:00" in text


def test_pr_means_neither_null_nor_empty() -> None:
    assert sql(user_condition("title pr".replace("title", "displayName"))) == (
        "scim_users.display_name_key IS NOT NULL AND scim_users.display_name_key != ''"
    )


@pytest.mark.parametrize("value", ["true", '"True"', '"true"'])
def test_active_takes_json_and_string_booleans(value: str) -> None:
    # active is absent when the client never sent it.
    present = "scim_users.active IS NOT NULL AND"
    assert sql(user_condition(f"active eq {value}")) == f"{present} scim_users.active = 1"
    assert sql(user_condition('active eq "False"')) == f"{present} scim_users.active = 0"


def test_value_paths_need_an_email_and_test_it() -> None:
    text = sql(user_condition('emails[type eq "work" and value co "@x"]'))
    assert text.startswith("scim_users.email_key IS NOT NULL AND")
    assert "scim_users.email_key LIKE '%@x%'" in text
    # Entra's form reads the same.
    assert sql(user_condition('emails[type eq "work"].value co "@x"')) == text


def test_enterprise_department_and_work_address_locality() -> None:
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert "scim_users.department_key = 'sales'" in sql(
        user_condition(f'{urn}:department eq "Sales"')
    )
    assert "scim_users.locality_key = 'köln'" in sql(
        user_condition('addresses[type eq "work"].locality eq "KÖLN"')
    )


def test_group_members_are_an_exists_over_the_members() -> None:
    statement = select(ScimGroup.id).where(group_condition('members[value eq "u1"]'))
    text = str(statement.compile(dialect=sqlite.dialect()))
    assert "EXISTS (SELECT" in text and "scim_group_members.group_id = scim_groups.id" in text


# ---- errors -------------------------------------------------------------------------------


def test_an_unknown_attribute_is_named() -> None:
    error = refused('title eq "Boss"')
    assert '"title"' in error.detail and "userName" in error.detail
    assert '"userName"' in refused('userName eq "x"', groups=True).detail
    # Neither kept nor shown: the resource has no formatted name.
    assert '"name.formatted"' in refused('name.formatted eq "Ada Lovelace"').detail


def test_an_attribute_of_another_schema_is_unknown() -> None:
    assert (
        "urn:example:params:Thing:userName"
        in refused('urn:example:params:Thing:userName eq "x"').detail
    )


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le", "co", "sw", "ew"])
def test_booleans_take_only_eq_and_ne(op: str) -> None:
    assert "active is true or false" in refused(f"active {op} true").detail


def test_syntax_errors_say_where_in_words() -> None:
    detail = refused('userName xx "a"').detail
    assert "character 10" in detail and "an operator" in detail
    assert "ends too early" in refused("userName eq").detail
    assert "quoted value is not closed" in refused('userName eq "x').detail
    assert "expected" in refused('(userName eq "x"').detail


def test_wrong_value_types_are_refused() -> None:
    assert "text value in double quotes" in refused("userName eq 5").detail
    assert "true or false" in refused('active eq "yes"').detail
    assert '"yesterday" is not one' in refused('meta.created gt "yesterday"').detail
    assert "only by eq or ne" in refused("userName co null").detail
    assert "date and time" in refused('meta.created co "2026"').detail
    assert "NUL" in refused('userName eq "\\u0000"').detail
    assert "unpaired" in refused('userName eq "\\ud800"').detail


def test_complex_attributes_name_their_parts() -> None:
    assert "name.givenName" in refused('name eq "Ada"').detail
    assert "locality" in refused('addresses co "x"').detail
    assert "no such part" in refused('emails[display eq "x"]').detail
    assert "not a list" in refused('userName[value eq "x"]').detail


def test_limits_on_length_and_nesting() -> None:
    assert "2,000" in refused("userName pr or " * 140 + "userName pr").detail
    deep = "not (" * (MAX_DEPTH + 1) + "userName pr" + ")" * (MAX_DEPTH + 1)
    assert "nests more than 20" in refused(deep).detail
    parens = "(" * (MAX_DEPTH + 1) + "userName pr" + ")" * (MAX_DEPTH + 1)
    assert "nests more than 20" in refused(parens).detail
    very_deep = "not (" * 40 + "userName pr" + ")" * 40
    assert "nests more than 20" in refused(very_deep).detail
    fine = "not (" * MAX_DEPTH + "userName pr" + ")" * MAX_DEPTH
    user_condition(fine)


def test_an_empty_filter_is_refused() -> None:
    assert "empty" in refused("   ").detail
