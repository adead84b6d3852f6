"""The OData query options Graph supports on users and groups: $select, $top, $filter, $search.

$filter is parsed into a predicate over an object's properties. Clauses Graph serves only as
"advanced queries" (ne, not, endswith, null comparisons) are accepted only when the caller sends
``ConsistencyLevel: eventual`` with ``$count=true``, as Graph does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from switchboard.emulator.directory_objects import DirectoryError


class PropertyReader(Protocol):
    """An object's properties by name (a user, a group, or a dict); None when not set."""

    def get(self, name: str, /) -> Any: ...


Predicate = Callable[[PropertyReader], bool]

FILTERABLE = {
    "users": frozenset(
        {
            "id",
            "userPrincipalName",
            "mail",
            "displayName",
            "givenName",
            "surname",
            "officeLocation",
            "accountEnabled",
            "jobTitle",
            "department",
            "employeeId",
            "city",
            "usageLocation",
            "onPremisesSyncEnabled",
            "mailNickname",
            "userType",
            "country",
            "companyName",
            "preferredLanguage",
        }
    ),
    "groups": frozenset(
        {
            "id",
            "displayName",
            "mail",
            "mailNickname",
            "securityEnabled",
            "mailEnabled",
            "description",
        }
    ),
}
STARTSWITH = frozenset(
    {
        "userPrincipalName",
        "mail",
        "displayName",
        "givenName",
        "surname",
        "mailNickname",
        "jobTitle",
        "department",
        "city",
        "employeeId",
        "officeLocation",
    }
)
SEARCHABLE = frozenset(
    {
        "displayName",
        "mail",
        "userPrincipalName",
        "givenName",
        "surname",
        "jobTitle",
        "department",
        "mailNickname",
        "description",
        "officeLocation",
    }
)
ENTITY = {"users": "microsoft.graph.user", "groups": "microsoft.graph.group"}


def bad_query(message: str) -> DirectoryError:
    return DirectoryError(400, "Request_UnsupportedQuery", message)


def parse_select(raw: str | None, allowed: frozenset[str], kind: str) -> list[str] | None:
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise DirectoryError(400, "Request_BadRequest", "$select: give property names.")
    for name in names:
        if name not in allowed:
            raise DirectoryError(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{name}' on type '{ENTITY[kind]}'.",
            )
    return names


def parse_top(raw: str | None, default: int = 100) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 999:
        raise DirectoryError(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive.",
        )
    return int(raw)


# ------------------------------------------------------------------------ $filter
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_./]*)|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<guid>[0-9a-fA-F-]{36}))"
)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Tok]:
    pos = 0
    out: list[_Tok] = []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise bad_query(f"Invalid filter clause: syntax error at position {pos}.")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@dataclass
class FilterSpec:
    predicate: Predicate
    advanced: bool
    ids: list[str] | None  # set when the filter is only "id eq ... or id eq ..."


class _Parser:
    def __init__(self, tokens: list[_Tok], kind: str) -> None:
        self.toks = tokens
        self.i = 0
        self.kind = kind
        self.advanced = False
        self.only_ids = True
        self.ids: list[str] = []

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (kind and tok.kind != kind) or (text and tok.text.lower() != text):
            want = text or kind or "a token"
            raise bad_query(f"Invalid filter clause: expected {want}.")
        self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.lower() == word

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise bad_query("Invalid filter clause: unexpected text after the expression.")
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.is_word("or"):
            self.i += 1
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda o: any(p(o) for p in parts)

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.is_word("and"):
            self.i += 1
            self.only_ids = False
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda o: all(p(o) for p in parts)

    def unary(self) -> Predicate:
        if self.is_word("not"):
            self.i += 1
            self.advanced = True
            self.only_ids = False
            inner = self.unary()
            return lambda o: not inner(o)
        return self.primary()

    def prop(self) -> str:
        name = self.take("word").text
        if name not in FILTERABLE[self.kind]:
            raise bad_query(
                f"Unsupported or invalid query filter clause specified for property '{name}' "
                f"of resource '{ENTITY[self.kind].split('.')[-1].capitalize()}'."
            )
        return name

    def literal(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise bad_query("Invalid filter clause: expected a value.")
        self.i += 1
        if tok.kind == "str":
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "num":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "guid":
            return tok.text
        if tok.kind == "word" and tok.text in ("true", "false"):
            return tok.text == "true"
        if tok.kind == "word" and tok.text == "null":
            return None
        raise bad_query(f"Invalid filter clause: '{tok.text}' is not a value.")

    def primary(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok.kind == "lp":
            self.i += 1
            inner = self.or_expr()
            self.take("rp")
            return inner
        if (
            tok is not None
            and tok.kind == "word"
            and tok.text.lower()
            in (
                "startswith",
                "endswith",
            )
        ):
            func = tok.text.lower()
            self.i += 1
            self.only_ids = False
            self.take("lp")
            name = self.prop()
            self.take("comma")
            value = self.literal()
            self.take("rp")
            if not isinstance(value, str):
                raise bad_query(f"Invalid filter clause: {func} needs a string value.")
            if func == "endswith":
                self.advanced = True
            elif name not in STARTSWITH:
                raise bad_query(
                    f"Unsupported or invalid query filter clause specified for property "
                    f"'{name}': startswith is not supported on it."
                )
            needle = value.casefold()
            if func == "startswith":
                return lambda o: _fold(o.get(name)).startswith(needle)
            return lambda o: _fold(o.get(name)).endswith(needle)
        name = self.prop()
        op = self.take("word").text.lower()
        if op == "in":
            self.take("lp")
            values = [self.literal()]
            while (token := self.peek()) is not None and token.kind == "comma":
                self.i += 1
                values.append(self.literal())
            self.take("rp")
            if name == "id":
                self.ids.extend(str(v) for v in values)
            else:
                self.only_ids = False
            folded = {_fold_any(v) for v in values}
            return lambda o: _fold_any(o.get(name)) in folded
        if op not in ("eq", "ne", "ge", "le"):
            raise bad_query(f"Invalid filter clause: operator '{op}' is not supported.")
        value = self.literal()
        if op != "eq" or value is None:
            self.advanced = True
        if op == "eq" and name == "id":
            self.ids.append(str(value))
        else:
            self.only_ids = False
        want = _fold_any(value)
        if op == "eq":
            return lambda o: _fold_any(o.get(name)) == want
        if op == "ne":
            return lambda o: _fold_any(o.get(name)) != want
        if op == "ge":
            return lambda o: o.get(name) is not None and _fold_any(o.get(name)) >= want
        return lambda o: o.get(name) is not None and _fold_any(o.get(name)) <= want


def _fold(value: Any) -> str:
    return value.casefold() if isinstance(value, str) else ""


def _fold_any(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def parse_filter(raw: str, kind: str) -> FilterSpec:
    parser = _Parser(_tokenize(raw), kind)
    pred = parser.parse()
    ids = parser.ids if parser.only_ids and parser.ids else None
    return FilterSpec(pred, parser.advanced, ids)


# ------------------------------------------------------------------------ $search
_SEARCH_CLAUSE = re.compile(r'"(?P<prop>[A-Za-z]+):(?P<term>[^"]*)"|(?P<op>AND|OR)')
_WORD_SPLIT = re.compile(r"[^\w]+|(?<=[a-z])(?=[A-Z])")


def parse_search(raw: str) -> Predicate:
    """``"displayName:ana" OR "mail:ana"``: tokenized prefix match, as Graph's $search."""
    raw = raw.strip()
    pos = 0
    clauses: list[Predicate] = []
    ops: list[str] = []
    while pos < len(raw):
        m = _SEARCH_CLAUSE.match(raw, pos)
        if m is None:
            raise DirectoryError(
                400,
                "Request_BadRequest",
                'Syntax error: $search must be clauses like "displayName:term", quoted, joined '
                "by AND or OR.",
            )
        if m.group("op"):
            ops.append(m.group("op"))
        else:
            prop, term = m.group("prop"), m.group("term").casefold()
            if prop not in SEARCHABLE:
                raise DirectoryError(
                    400, "Request_BadRequest", f"$search is not supported on property '{prop}'."
                )
            clauses.append(_search_clause(prop, term))
        pos = m.end()
        while pos < len(raw) and raw[pos].isspace():
            pos += 1
    if not clauses or len(ops) != len(clauses) - 1:
        raise DirectoryError(
            400, "Request_BadRequest", "Syntax error: $search clauses must be joined by AND/OR."
        )

    def pred(o: PropertyReader) -> bool:
        result = clauses[0](o)
        for op, clause in zip(ops, clauses[1:], strict=True):
            result = (result and clause(o)) if op == "AND" else (result or clause(o))
        return result

    return pred


def _search_clause(prop: str, term: str) -> Predicate:
    def match(o: PropertyReader) -> bool:
        value = o.get(prop)
        if not isinstance(value, str):
            return False
        if value.casefold().startswith(term):
            return True
        return any(w.casefold().startswith(term) for w in _WORD_SPLIT.split(value) if w)

    return match
