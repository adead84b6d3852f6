"""SCIM filters (RFC 7644 3.4.2.2) as SQL conditions over the SCIM user and group tables.

scim2-models parses; this module walks the tree it builds and says the same thing in SQL, so a
filtered list is one indexed query, never a scan of the account in Python. The caller ANDs the
condition with the account it serves.

Semantics, where the RFC leaves room:
- `ne` is the negation of `eq`: an absent attribute is not equal to any value, and a list
  (members, groups) is "not equal" when none of its values is equal.
- `eq null` matches an absent attribute, `ne null` a present one.
- Every condition is true or false, never SQL NULL, so `not (...)` negates exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import and_, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from switchboard.scim.errors import ScimError, invalid_filter
from switchboard.scim.filter_attributes import (
    GROUPS,
    USERS,
    Attribute,
    CodePoints,
    Complex,
    Schema,
    position,
)

MAX_LENGTH = 2000
MAX_DEPTH = 20

# The parser's token names, as a person reads them.
_TOKENS = {
    "STRING": "a value in double quotes",
    "NUMBER": "a number",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "COMPARE_OP": "an operator (eq, ne, co, sw, ew, gt, ge, lt, le)",
    "PR": "pr",
    "ATTR_PATH": "an attribute name",
    "SUB_ATTR": "an attribute name",
    "_LPAR": '"("',
    "_RPAR": '")"',
    "_LBRACKET": '"["',
    "_RBRACKET": '"]"',
    "_DOT": '"."',
    "_AND": "and",
    "_OR": "or",
    "_NOT": "not",
}


def user_condition(filter_text: str) -> ColumnElement[bool]:
    """The SQL condition over ScimUser (and its group memberships) a filter stands for."""
    return _Translator(USERS).visit(parse(filter_text))


def group_condition(filter_text: str) -> ColumnElement[bool]:
    """The SQL condition over ScimGroup (and its members) a filter stands for."""
    return _Translator(GROUPS).visit(parse(filter_text))


def parse(filter_text: str) -> FilterNode:
    """The filter's syntax tree; a ScimError (400 invalidFilter) when it cannot be read."""
    if len(filter_text) > MAX_LENGTH:
        raise invalid_filter(
            f"the filter is {len(filter_text):,} characters long; at most {MAX_LENGTH:,} are "
            "accepted"
        )
    if not filter_text.strip():
        raise invalid_filter("the filter is empty")
    try:
        node = ScimFilter(filter_text).ast
    except InvalidFilterException as exc:
        raise _unreadable(filter_text, exc) from None
    if _depth(node) > MAX_DEPTH or _bracket_depth(filter_text) > MAX_DEPTH:
        raise _too_deep()
    return node


def _too_deep() -> ScimError:
    return invalid_filter(
        f"the filter nests more than {MAX_DEPTH} expressions (not, and/or groups and brackets); "
        "write it with fewer levels"
    )


def _unreadable(text: str, exc: InvalidFilterException) -> ScimError:
    cause = exc.__cause__
    if isinstance(cause, UnexpectedToken) and cause.token.type == "$END":
        return invalid_filter(f"the filter ends too early: expected {_expected(cause.expected)}")
    if isinstance(cause, UnexpectedInput):
        at: object = cause.pos_in_stream
        if not isinstance(at, int) or at < 0:
            return invalid_filter("the filter is not valid SCIM filter syntax")
        shown = text[at : at + 20]
        detail = f"the filter cannot be read at character {at + 1}, where it reads: {shown}"
        if isinstance(cause, UnexpectedToken):
            detail += f"; expected {_expected(cause.expected)} there"
        elif isinstance(cause, UnexpectedCharacters) and shown.startswith('"'):
            detail += "; a quoted value is not closed, or holds a character it must escape"
        return invalid_filter(detail)
    if "nests more than" in exc.detail:
        return _too_deep()
    # The parser's own words: a value selection on a sub-attribute, a number out of range.
    return invalid_filter(f"the filter is not valid: {exc.detail}")


def _expected(names: set[str]) -> str:
    words = sorted({_TOKENS.get(name, name.lower()) for name in names})
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _depth(root: FilterNode) -> int:
    """How deeply not, and/or and value selections nest (parentheses alone add nothing)."""
    deepest = 0
    stack: list[tuple[FilterNode, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, Not):
            stack.append((node.expr, depth + 1))
        elif isinstance(node, LogicalExpr):
            stack.extend((term, depth + 1) for term in node.terms)
        elif isinstance(node, ValuePath):
            stack.append((node.val_filter, depth + 1))
    return deepest


def _bracket_depth(text: str) -> int:
    """How deeply parentheses and brackets nest, outside quoted values."""
    depth = deepest = 0
    quoted = escaped = False
    for char in text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


class _Translator(FilterVisitor[ColumnElement[bool]]):
    """One filter node -> one SQL condition; `within` is the attribute whose brackets the
    nodes are in (emails[...]), whose sub-attributes they name."""

    def __init__(self, schema: Schema, within: Complex | None = None) -> None:
        self.schema = schema
        self.within = within

    def _resolve(self, path: AttrPath) -> tuple[Complex | None, Attribute | None]:
        """(the list or complex attribute, the simple attribute compared)."""
        if self.within is not None:
            sub = self.within.sub(path.attr) if path.uri is None and not path.sub_attr else None
            if sub is None:
                raise invalid_filter(
                    f'the filter names "{path}" inside {self.within.name}[...], which has no '
                    f"such part; it has {self.within.parts()}"
                )
            return None, sub
        found = self.schema.lookup(path)
        if found is None:
            raise invalid_filter(
                f'the filter names the attribute "{path}", which {self.schema.resource.lower()}s '
                f"here cannot be filtered on; use {self.schema.known}"
            )
        named, sub = found
        if isinstance(named, Attribute):
            return None, named
        return named, sub

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        outer, attribute = self._resolve(node.attr_path)
        if attribute is None:
            assert outer is not None
            attribute = outer.sub(outer.default) if outer.default else None
            if attribute is None:
                parts = ", ".join(s.name for s in outer.subs.values())
                raise invalid_filter(f"{outer.name} is made of parts; compare one of them: {parts}")
        wrap = outer.any_value if outer is not None else _same
        if node.value is None:
            if node.op == CompareOperator.eq:
                return not_(wrap(attribute.present))
            if node.op == CompareOperator.ne:
                return wrap(attribute.present)
            raise invalid_filter(f"{attribute.name} can be compared with null only by eq or ne")
        if node.op == CompareOperator.ne:
            return not_(wrap(_compare(attribute, CompareOperator.eq, node.value)))
        return wrap(_compare(attribute, node.op, node.value))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        outer, attribute = self._resolve(node.attr_path)
        if attribute is None:
            assert outer is not None
            return outer.present
        return outer.any_value(attribute.present) if outer is not None else attribute.present

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        outer, attribute = self._resolve(node.attr_path)
        if outer is None or attribute is not None:
            raise invalid_filter(
                f'brackets select among the values of a list such as emails[type eq "work"]; '
                f'"{node.attr_path}" is not a list'
            )
        return outer.any_value(_Translator(self.schema, within=outer).visit(node.val_filter))


def _same(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return condition


def _compare(attribute: Attribute, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    """A comparison that is never SQL NULL: an absent value compares false."""
    if attribute.kind == "boolean":
        condition = _boolean(attribute, op, value)
    elif attribute.kind == "datetime":
        condition = _datetime(attribute, op, value)
    else:
        condition = _string(attribute, op, value)
    if attribute.nullable:
        return and_(attribute.value.is_not(None), condition)
    return condition


def _ordered(left: Any, op: CompareOperator, right: Any) -> ColumnElement[bool]:
    if op == CompareOperator.eq:
        return left == right  # type: ignore[no-any-return]
    if op == CompareOperator.gt:
        return left > right  # type: ignore[no-any-return]
    if op == CompareOperator.ge:
        return left >= right  # type: ignore[no-any-return]
    if op == CompareOperator.lt:
        return left < right  # type: ignore[no-any-return]
    return left <= right  # type: ignore[no-any-return]


def _string(attribute: Attribute, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, str):
        raise invalid_filter(f"{attribute.name} is compared with a text value in double quotes")
    if "\x00" in value:
        raise invalid_filter(f"the value {attribute.name} is compared with holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid_filter(
            f"the value {attribute.name} is compared with holds an unpaired \\u escape"
        ) from None
    needle = value if attribute.case_exact else value.casefold()
    column = attribute.value
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        if not attribute.case_exact:
            # Both sides are case-folded already; LIKE ignoring ASCII case (SQLite) is harmless.
            return column.like(_like_pattern(needle, op), escape="\\")
        if op == CompareOperator.co:
            return position(column, needle) > 0
        if op == CompareOperator.sw:
            return func.substr(column, 1, len(needle)) == needle
        length = func.length(column)
        return and_(length >= len(needle), func.substr(column, length - len(needle) + 1) == needle)
    if op == CompareOperator.eq:
        return column == needle
    # Lexicographic, by code points (RFC 7644 3.4.2.2 "gt").
    return _ordered(CodePoints(column), op, needle)


def _like_pattern(needle: str, op: CompareOperator) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if op == CompareOperator.co:
        return f"%{escaped}%"
    return f"{escaped}%" if op == CompareOperator.sw else f"%{escaped}"


def _boolean(attribute: Attribute, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    if op != CompareOperator.eq:
        raise invalid_filter(f"{attribute.name} is true or false: compare it with eq or ne")
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise invalid_filter(f"{attribute.name} is compared with true or false")
    return attribute.value == value


def _datetime(attribute: Attribute, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        raise invalid_filter(
            f"{attribute.name} is a date and time: compare it with eq, ne, gt, ge, lt or le"
        )
    moment = _moment(value) if isinstance(value, str) else None
    if moment is None:
        shown = f'"{value}"' if isinstance(value, str) else "a value without quotes"
        raise invalid_filter(
            f'{attribute.name} is compared with a date and time such as "2026-01-15T09:00:00Z"; '
            f"{shown} is not one"
        )
    return _ordered(attribute.value, op, moment)


def _moment(text: str) -> datetime | None:
    """An ISO 8601 date and time (RFC 7643 dateTime); without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
