"""SCIM filters as SQL agree with the same filters evaluated in memory, on SQLite and PostgreSQL.

The in-memory side is an evaluator written here, over the SCIM document a client reads for each
user (``user_attributes.document`` plus id and meta), following RFC 7644 3.4.2.2 with the
choices ``switchboard.scim.filters`` documents (``ne`` is ``not eq``; ``eq null`` means
absent). It is not scim2-models' ``ScimFilter.match``: that reads a typed ``User`` model,
which has no place for an attribute value it would refuse, and it leaves ``ne`` on an absent
attribute and Unicode case folding to its own policy. The evaluator walks the parsed tree,
never the SQL, and reads the rendered document, never the columns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models.path import (
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.scim_models import ScimUser
from switchboard.scim.filters import parse, user_condition
from switchboard.scim.user_attributes import ENTERPRISE_USER, UserData, document
from tests import factories

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
# Latin with accents and ß, Greek (final sigma), Cyrillic, CJK, Turkish dotted I, a ligature,
# and the characters LIKE treats specially.
ALPHABET = "aAbBzZéÉßẞσΣςжЖдДİıﬁ李雪%_\\ -.@"  # noqa: RUF001 - look-alikes on purpose


@dataclass(frozen=True)
class Row:
    id: str
    data: UserData
    created: datetime
    updated: datetime
    version: int

    def scim(self) -> dict[str, Any]:
        def stamp(moment: datetime) -> str:
            return moment.isoformat().replace("+00:00", "Z")

        meta = {
            "resourceType": "User",
            "created": stamp(self.created),
            "lastModified": stamp(self.updated),
            "version": f'W/"{self.version}"',
        }
        return {**document(self.data), "id": self.id, "meta": meta}


# ---- the in-memory evaluator --------------------------------------------------------------

CASE_EXACT = {"id", "externalid", "meta.version", "meta.resourcetype", "groups.value"}
BOOLEAN = {"active", "emails.primary"}
DATES = {"meta.created", "meta.lastmodified"}


def _get(container: Any, name: str) -> Any:
    if not isinstance(container, dict):
        return None
    for key, value in container.items():
        if key.lower() == name.lower():
            return value
    return None


def _values(doc: dict[str, Any], path: Any, within: str | None) -> tuple[str, list[Any]]:
    """(the attribute's full name in lower case, the values the path reads)."""
    if within is not None:
        return f"{within}.{path.attr.lower()}", [_get(doc, path.attr)]
    holder = doc
    urn = (path.uri or "").lower()
    if urn == ENTERPRISE_USER.lower() or (not urn and path.attr.lower() == "department"):
        holder = doc.get(ENTERPRISE_USER, {})
    head = _get(holder, path.attr)
    name = path.attr.lower()
    sub = path.sub_attr
    if isinstance(head, list):
        sub = sub or "value"
        return f"{name}.{sub.lower()}", [_get(item, sub) for item in head]
    if sub is not None:
        return f"{name}.{sub.lower()}", [_get(head, sub)]
    return name, [head]


def _present(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_present(v) for v in value.values())
    if isinstance(value, list):
        return any(_present(v) for v in value)
    return value is not None and value != ""


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _compare(name: str, op: str, actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if name in BOOLEAN or name.endswith(".primary"):
        if isinstance(expected, str):
            expected = expected.lower() == "true"
        return bool(actual == expected)
    if name in DATES:
        return _ordered(_moment(actual), op, _moment(expected))
    left, right = str(actual), str(expected)
    if name not in CASE_EXACT:
        left, right = left.casefold(), right.casefold()
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return _ordered(left, op, right)


def _ordered(left: Any, op: str, right: Any) -> bool:
    """Python's own order: code points for strings (RFC 7644 "gt": lexicographical)."""
    if op == "eq":
        return bool(left == right)
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


def evaluate(node: FilterNode, doc: dict[str, Any], within: str | None = None) -> bool:
    if isinstance(node, LogicalExpr):
        results = [evaluate(term, doc, within) for term in node.terms]
        return all(results) if node.op == LogicalOperator.and_ else any(results)
    if isinstance(node, Not):
        return not evaluate(node.expr, doc, within)
    if isinstance(node, Present):
        path = node.attr_path
        if within is None and path.sub_attr is None and (path.uri or CORE).lower() == CORE.lower():
            # A complex or multi-valued attribute is present when any part of it is.
            return _present(_get(doc, path.attr))
        _, values = _values(doc, path, within)
        return any(_present(v) for v in values)
    if isinstance(node, ValuePath):
        items = _get(doc, node.attr_path.attr) or []
        prefix = node.attr_path.attr.lower()
        return any(evaluate(node.val_filter, item, prefix) for item in items)
    assert isinstance(node, Comparison)
    name, values = _values(doc, node.attr_path, within)
    op = node.op.value
    if node.value is None:
        found = any(_present(v) for v in values)
        return not found if op == "eq" else found
    if op == "ne":
        return not any(_compare(name, "eq", v, node.value) for v in values)
    return any(_compare(name, op, v, node.value) for v in values)


# ---- users and filters --------------------------------------------------------------------

words = st.text(ALPHABET, min_size=1, max_size=7).map(str.strip).map(lambda s: s or None)
maybe = st.one_of(st.none(), words)
moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@st.composite
def rows(draw: st.DrawFn) -> Row:
    given_name, family = draw(maybe), draw(maybe)
    local = draw(words) or "x"
    email = draw(st.one_of(st.none(), st.just(f"{local}@Example.{draw(words) or 'com'}")))
    created = draw(moments)
    data = UserData(
        user_name=draw(words) or "user",
        external_id=draw(maybe),
        given_name=given_name,
        family_name=family,
        display_name=draw(
            st.one_of(
                st.none(), st.just(" ".join(filter(None, (given_name, family))) or None), words
            )
        ),
        email=email,
        email_type=draw(st.sampled_from([None, "work", "Work", "HOME", "other"])),
        active=draw(st.sampled_from([None, True, False])),
        department=draw(maybe),
        locality=draw(maybe),
    )
    return Row(
        id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        data=data,
        created=created,
        updated=created + draw(st.timedeltas(timedelta(0), timedelta(days=90))),
        version=draw(st.integers(1, 4)),
    )


def unique_rows(size: int) -> st.SearchStrategy[list[Row]]:
    return st.lists(
        rows(), max_size=size, unique_by=(lambda r: r.data.user_name.casefold(), lambda r: r.id)
    )


STRINGS = [
    "userName",
    "externalId",
    "id",
    "displayName",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    f"{ENTERPRISE_USER}:department",
    "addresses.locality",
    "addresses.type",
    "meta.version",
    "meta.resourceType",
]
BOOLEANS = ["active", "emails.primary"]
DATETIMES = ["meta.created", "meta.lastModified"]
STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
DATE_OPS = ["eq", "ne", "gt", "ge", "lt", "le"]
CHANGES: list[Callable[[str], str]] = [str.strip, str.lower, str.upper, str.swapcase]
# data.draw as well as a composite's draw.
Draw = Callable[..., Any]


def _recase(draw: Draw, name: str) -> str:
    change = CHANGES[draw(st.integers(0, len(CHANGES) - 1))]
    if name.startswith("urn:"):
        urn, _, attr = name.rpartition(":")
        return f"{urn}:{change(attr)}"
    if draw(st.booleans()) and not name.startswith("meta"):
        return f"{CORE}:{change(name)}"
    return change(name)


def _quote(value: str, draw: Draw) -> str:
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


Pool = dict[str, list[str]]


def _string_value(draw: Draw, pool: Pool, name: str) -> str:
    """Mostly a value (or a piece of one) the attribute has, in another case; else any text."""
    values = pool.get(name.rsplit(":", 1)[-1].lower(), [])
    if values and draw(st.integers(0, 4)):
        value = draw(st.sampled_from(values))
        start = draw(st.integers(0, len(value)))
        end = draw(st.integers(start, len(value)))
        piece: str = draw(st.sampled_from([value, value, value[start:end], value[start:]]))
        return CHANGES[draw(st.integers(0, len(CHANGES) - 1))](piece)
    drawn: str = draw(st.text(ALPHABET, max_size=4))
    return drawn


def _pool(docs: list[dict[str, Any]]) -> Pool:
    """The string values each attribute has in these documents."""
    pool: Pool = {}
    for name in STRINGS:
        node = parse(f"{name} pr")
        assert isinstance(node, Present)
        key = name.rsplit(":", 1)[-1].lower()
        for doc in docs:
            _, values = _values(doc, node.attr_path, None)
            pool.setdefault(key, []).extend(v for v in values if isinstance(v, str))
    return pool


def _comparison(draw: Draw, pool: Pool, moments_seen: list[datetime]) -> str:
    kind = draw(st.sampled_from(["string", "string", "string", "boolean", "date", "present"]))
    if kind == "present":
        name = draw(st.sampled_from([*STRINGS, *BOOLEANS, *DATETIMES, "name", "addresses"]))
        return f"{_recase(draw, name)} pr"
    if kind == "boolean":
        name = draw(st.sampled_from(BOOLEANS))
        value = draw(st.sampled_from(["true", "false", '"True"', '"False"']))
        return f"{_recase(draw, name)} {draw(st.sampled_from(['eq', 'ne']))} {value}"
    if kind == "date":
        name = draw(st.sampled_from(DATETIMES))
        base = draw(st.sampled_from(moments_seen)) if moments_seen else draw(moments)
        moment = base + draw(st.sampled_from([timedelta(0), timedelta(0), timedelta(seconds=-1)]))
        shown = draw(
            st.sampled_from(
                [
                    moment.isoformat().replace("+00:00", "Z"),
                    moment.astimezone(UTC).replace(tzinfo=None).isoformat(),
                    moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
                ]
            )
        )
        return f'{_recase(draw, name)} {draw(st.sampled_from(DATE_OPS))} "{shown}"'
    name = draw(st.sampled_from(STRINGS))
    op = draw(st.sampled_from(STRING_OPS))
    if op in ("eq", "ne") and not draw(st.integers(0, 9)):
        return f"{_recase(draw, name)} {op} null"
    return f"{_recase(draw, name)} {op} {_quote(_string_value(draw, pool, name), draw)}"


def _value_path(draw: Draw, pool: Pool) -> str:
    attr = draw(st.sampled_from(["emails", "addresses"]))
    subs = ["value", "type", "primary"] if attr == "emails" else ["locality", "type"]

    def inner() -> str:
        sub = draw(st.sampled_from(subs))
        if sub == "primary":
            op = draw(st.sampled_from(["eq", "ne"]))
            return f"primary {op} {draw(st.sampled_from(['true', 'false']))}"
        if not draw(st.integers(0, 5)):
            return f"{sub} pr"
        op = draw(st.sampled_from(STRING_OPS))
        return f"{sub} {op} {_quote(_string_value(draw, pool, f'{attr}.{sub}'), draw)}"

    shape = draw(st.integers(0, 3))
    if shape == 0:
        body = inner()
    elif shape == 1:
        body = f"{inner()} {draw(st.sampled_from(['and', 'or']))} {inner()}"
    elif shape == 2:
        body = f"not ({inner()})"
    else:
        # Entra's form: a value selection followed by a comparison on a sub-attribute.
        sub = draw(st.sampled_from(subs[:2]))
        op = draw(st.sampled_from(STRING_OPS))
        value = _string_value(draw, pool, f"{attr}.{sub}")
        return f"{attr}[{inner()}].{sub} {op} {_quote(value, draw)}"
    return f"{_recase(draw, attr)}[{body}]"


SHAPES = ["compare"] * 4 + ["value path", "not", "not", "parentheses", "and/or", "and/or"]


def filters(draw: Draw, pool: Pool, seen: list[datetime], depth: int = 0) -> str:
    """A filter of comparisons, presence tests and value selections under not, and, or and
    parentheses, nested at most three deep."""
    shape = draw(st.sampled_from(SHAPES if depth < 3 else SHAPES[:5]))
    if shape == "compare":
        return _comparison(draw, pool, seen)
    if shape == "value path":
        return _value_path(draw, pool)
    if shape == "not":
        return f"not ({filters(draw, pool, seen, depth + 1)})"
    if shape == "parentheses":
        return f"({filters(draw, pool, seen, depth + 1)})"
    joiner = draw(st.sampled_from(["and", "or", "AND", "Or"]))
    left = filters(draw, pool, seen, depth + 1)
    return f"{left} {joiner} {filters(draw, pool, seen, depth + 1)}"


# ---- the database side --------------------------------------------------------------------


@pytest.fixture
def accounts(container: Container) -> tuple[Container, int, int]:
    with container.unit_of_work() as session:
        acme = factories.account(session, "acme")
        globex = factories.account(session, "globex")
        ids = (acme.id, globex.id)
    return container, *ids


def _store(session: Session, account_id: int, row: Row) -> None:
    d = row.data
    session.add(
        ScimUser(
            id=row.id,
            account_id=account_id,
            external_id=d.external_id,
            user_name=d.user_name,
            user_name_key=d.user_name.casefold(),
            given_name=d.given_name,
            family_name=d.family_name,
            family_name_key=d.family_name.casefold() if d.family_name else None,
            display_name=d.display_name,
            email=d.email,
            email_key=d.email.casefold() if d.email else None,
            email_type=d.email_type,
            active=d.active,
            department=d.department,
            locality=d.locality,
            created_at=row.created,
            updated_at=row.updated,
            version=row.version,
        )
    )


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_filters_select_in_sql_what_they_select_in_memory(
    accounts: tuple[Container, int, int], data: st.DataObject
) -> None:
    container, acme, globex = accounts
    ours = data.draw(unique_rows(10), label="acme users")
    theirs = data.draw(unique_rows(4), label="globex users")
    taken = {r.id for r in ours}
    theirs = [r for r in theirs if r.id not in taken]
    docs = {r.id: r.scim() for r in ours}
    pool = _pool([*docs.values(), *(r.scim() for r in theirs)])
    seen = [m for r in ours for m in (r.created, r.updated)]
    texts = [filters(data.draw, pool, seen) for _ in range(8)]
    with container.unit_of_work() as session:
        for row in ours:
            _store(session, acme, row)
        for row in theirs:
            _store(session, globex, row)
    try:
        with container.unit_of_work() as session:
            for text_ in texts:
                expected = {i for i, doc in docs.items() if evaluate(parse(text_), doc)}
                found = set(
                    session.scalars(
                        select(ScimUser.id).where(
                            ScimUser.account_id == acme, user_condition(text_)
                        )
                    )
                )
                assert found == expected, text_
    finally:
        with container.unit_of_work() as session:
            session.execute(delete(ScimUser))


def test_user_name_eq_is_an_index_lookup(accounts: tuple[Container, int, int]) -> None:
    container, acme, globex = accounts
    with container.unit_of_work() as session:
        for n in range(300):
            for account_id in (acme, globex):
                moment = datetime(2026, 1, 1, tzinfo=UTC)
                session.add(
                    ScimUser(
                        id=str(uuid.uuid4()),
                        account_id=account_id,
                        user_name=f"User{n}@Example.com",
                        user_name_key=f"user{n}@example.com",
                        active=True,
                        created_at=moment,
                        updated_at=moment,
                    )
                )
    statement = select(ScimUser.id).where(
        ScimUser.account_id == acme, user_condition('userName eq "USER7@example.COM"')
    )
    with container.unit_of_work() as session:
        dialect = session.get_bind().dialect
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        assert session.scalars(statement).all() != []
        if dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "USING INDEX" in plan and "user_name_key=?" in plan, plan
        else:
            session.execute(text("ANALYZE scim_users"))
            plan = " ".join(str(r[0]) for r in session.execute(text(f"EXPLAIN {sql}")))
            assert "uq_scim_users_account_id_user_name_key" in plan, plan
