"""The attributes a SCIM filter or sortBy may name, as the SQL values they compare.

A User row keeps one email (value and type, always the primary one) and one work address (its
locality); a Group keeps its member ids. Each attribute here says what a rendered resource
shows of it, in SQL: case-insensitive strings (RFC 7643 caseExact false) are their case-folded
key columns, so `userName eq` is an indexed lookup. Attribute names compare ignoring case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scim2_models.path import AttrPath
from sqlalchemy import Boolean, Integer, String, and_, case, cast, exists, func, literal, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from switchboard.db.scim_models import ScimGroup, ScimGroupMember, ScimUser
from switchboard.scim.user_attributes import CORE_USER, ENTERPRISE_USER

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

Resource = Literal["User", "Group"]
Kind = Literal["string", "boolean", "datetime"]


class CodePoints(ColumnElement[Any]):
    """A string ordered by Unicode code points (RFC 7644 3.4.2.3: no locale implied).

    SQLite's default BINARY collation already is; PostgreSQL follows the database's locale
    unless told COLLATE "C".
    """

    inherit_cache = True
    _traverse_internals = [("inner", InternalTraversal.dp_clauseelement)]

    def __init__(self, inner: ColumnElement[Any]) -> None:
        self.inner = inner
        self.type = inner.type


@compiles(CodePoints)
def _code_points(element: CodePoints, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.inner, **kw)


@compiles(CodePoints, "postgresql")
def _code_points_postgresql(element: CodePoints, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.inner, **kw)}) COLLATE "C"'


class position(FunctionElement[int]):
    """Where a string first occurs in another, 1-based, 0 when it does not: the case-sensitive
    containment test (SQLite's LIKE ignores ASCII case)."""

    type = Integer()
    inherit_cache = True


@compiles(position)
def _position(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(position, "sqlite")
def _position_sqlite(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class Attribute:
    """A simple attribute: the SQL value a rendered resource shows for it."""

    name: str
    kind: Kind
    value: ColumnElement[Any]
    # False: `value` is case-folded (str.casefold) and filter values are folded the same way.
    case_exact: bool = True
    nullable: bool = True

    @property
    def present(self) -> ColumnElement[bool]:
        """`pr`: a value that is neither null nor empty."""
        if self.kind != "string":
            return self.value.is_not(None) if self.nullable else true()
        return and_(self.value.is_not(None), self.value != "")


@dataclass(frozen=True)
class Complex:
    """A complex attribute (name, meta) or a multi-valued one (emails, members)."""

    name: str
    subs: Mapping[str, Attribute]
    # The condition that some value of the attribute satisfies `condition` (over `subs`).
    any_value: Callable[[ColumnElement[bool]], ColumnElement[bool]]
    present: ColumnElement[bool]
    # The sub-attribute a comparison on the attribute itself means (emails co "x").
    default: str | None = None
    sortable: bool = True

    def sub(self, name: str) -> Attribute | None:
        return self.subs.get(name.lower())

    def parts(self) -> str:
        """Its sub-attributes' names, for an error message."""
        return ", ".join(sub.name.rsplit(".", 1)[-1] for sub in self.subs.values())


Named = Attribute | Complex


def _same(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return condition


SQLValue = ColumnElement[Any] | QueryableAttribute[Any]


def _sql(value: SQLValue) -> ColumnElement[Any]:
    return value.expression if isinstance(value, QueryableAttribute) else value


def _folded(name: str, value: SQLValue, *, nullable: bool = True) -> Attribute:
    return Attribute(name, "string", _sql(value), case_exact=False, nullable=nullable)


def _exact(name: str, value: SQLValue, *, nullable: bool = True) -> Attribute:
    return Attribute(name, "string", _sql(value), nullable=nullable)


def _meta(resource: Resource, created: Any, updated: Any, version: Any) -> Complex:
    etag = literal('W/"', String) + cast(version, String) + literal('"', String)
    subs = {
        "created": Attribute("meta.created", "datetime", created, nullable=False),
        "lastmodified": Attribute("meta.lastModified", "datetime", updated, nullable=False),
        "resourcetype": _exact("meta.resourceType", literal(resource, String), nullable=False),
        "version": _exact("meta.version", etag, nullable=False),
    }
    return Complex("meta", subs, _same, true())


def _user_attributes() -> dict[str, Named]:
    u = ScimUser
    has_email = u.email_key.is_not(None)
    has_address = u.locality_key.is_not(None)
    given, family = u.given_name_key, u.family_name_key
    name = Complex(
        "name",
        {
            "givenname": _folded("name.givenName", given),
            "familyname": _folded("name.familyName", family),
        },
        _same,
        or_(given.is_not(None), family.is_not(None)),
    )
    # A single email is the primary one unless the client said otherwise.
    primary = Attribute(
        "primary", "boolean", func.coalesce(u.email_primary, literal(True, Boolean))
    )
    emails = Complex(
        "emails",
        {
            "value": _folded("emails.value", u.email_key),
            # Rendered as "work" when the client sent no type. Types are the RFC's ASCII words,
            # which lower() folds on every database.
            "type": _folded(
                "emails.type",
                case((has_email, func.lower(func.coalesce(u.email_type, "work")))),
            ),
            "primary": Attribute("emails.primary", "boolean", case((has_email, primary.value))),
        },
        lambda condition: and_(has_email, condition),
        has_email,
        default="value",
    )
    addresses = Complex(
        "addresses",
        {
            "locality": _folded("addresses.locality", u.locality_key),
            "type": _folded("addresses.type", case((has_address, literal("work", String)))),
        },
        lambda condition: and_(has_address, condition),
        has_address,
    )
    member = ScimGroupMember
    groups = Complex(
        "groups",
        {"value": _exact("groups.value", member.group_id, nullable=False)},
        lambda condition: exists().where(member.user_id == u.id, condition),
        exists().where(member.user_id == u.id),
        default="value",
        sortable=False,
    )
    return {
        "id": _exact("id", u.id, nullable=False),
        "externalid": _exact("externalId", u.external_id),
        "username": _folded("userName", u.user_name_key, nullable=False),
        "displayname": _folded("displayName", u.display_name_key),
        # None: the client never sent it; the resource then shows no active.
        "active": Attribute("active", "boolean", _sql(u.active)),
        "name": name,
        "emails": emails,
        "addresses": addresses,
        "groups": groups,
        "meta": _meta("User", u.created_at, u.updated_at, u.version),
    }


def _group_attributes() -> dict[str, Named]:
    g, member = ScimGroup, ScimGroupMember
    members = Complex(
        "members",
        {"value": _exact("members.value", member.user_id, nullable=False)},
        lambda condition: exists().where(member.group_id == g.id, condition),
        exists().where(member.group_id == g.id),
        default="value",
        sortable=False,
    )
    return {
        "id": _exact("id", g.id, nullable=False),
        "externalid": _exact("externalId", g.external_id),
        "displayname": _folded("displayName", g.display_name_key, nullable=False),
        "members": members,
        "meta": _meta("Group", g.created_at, g.updated_at, g.version),
    }


@dataclass(frozen=True)
class Schema:
    """The attributes of one resource type, by the schema URN (lower case) they belong to."""

    resource: Resource
    core: str
    by_urn: Mapping[str, Mapping[str, Named]]
    # What the resource can be filtered on, and sorted by, in words, for error messages.
    known: str
    sortable: str

    def lookup(self, path: AttrPath) -> tuple[Named, Attribute | None] | None:
        """An attribute path (optionally URN-qualified) as (attribute, sub-attribute), or None
        when the resource has no such attribute. Unqualified names also find extension
        attributes, which no core attribute shares a name with."""
        if path.uri is not None:
            tables = [self.by_urn.get(path.uri.lower(), {})]
        else:
            tables = list(self.by_urn.values())
        for table in tables:
            named = table.get(path.attr.lower())
            if named is None:
                continue
            if path.sub_attr is None:
                return named, None
            if isinstance(named, Complex):
                sub = named.sub(path.sub_attr)
                return (named, sub) if sub is not None else None
            return None
        return None


def _extension(name: str, column: SQLValue) -> dict[str, Named]:
    return {name.lower(): _folded(name, column)}


USERS = Schema(
    "User",
    CORE_USER,
    {
        CORE_USER.lower(): _user_attributes(),
        ENTERPRISE_USER.lower(): _extension("department", ScimUser.department_key),
    },
    "userName, externalId, id, displayName, active, name (givenName, familyName), "
    "emails (value, type, primary), addresses (locality, type), groups, "
    "meta (created, lastModified, resourceType, version) and the enterprise department",
    "userName, externalId, id, displayName, active, name.givenName, name.familyName, "
    "emails, addresses.locality, meta.created, meta.lastModified or the "
    "enterprise department",
)

GROUPS = Schema(
    "Group",
    CORE_GROUP,
    {CORE_GROUP.lower(): _group_attributes()},
    "displayName, externalId, id, members (value) and meta (created, lastModified, "
    "resourceType, version)",
    "displayName, externalId, id, meta.created or meta.lastModified",
)
