"""Listing SCIM resources (RFC 7644 3.4.2): the query parameters, a stable page, and the
attributes a response shows.

    q = list_query(request.query_params, "User")
    query = select(ScimUser).where(ScimUser.account_id == account.id)
    if q.filter is not None:
        query = query.where(user_condition(q.filter))
    total, rows = page(session, query, q.start_index, q.count, order=q.order_by())
    resources = [project(render(row), q.attributes, q.excluded) for row in rows]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from scim2_models.path import AttrPath
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from switchboard.scim.discovery import MAX_RESULTS
from switchboard.scim.errors import invalid_value
from switchboard.scim.filter_attributes import (
    GROUPS,
    USERS,
    Attribute,
    CodePoints,
    Complex,
    Resource,
    Schema,
)

DEFAULT_COUNT = 100
# What /ServiceProviderConfig announces as filter.maxResults.
MAX_COUNT = MAX_RESULTS
# A startIndex past this only ever finds an empty page; a larger OFFSET overflows PostgreSQL.
MAX_START = 2**31 - 1
MAX_PARAMETER = 2000

_NAME = re.compile(r"\$?[A-Za-z][A-Za-z0-9$_-]*(?:\.\$?[A-Za-z][A-Za-z0-9$_-]*)?")
# Returned whatever a client asks (RFC 7643 "returned": always), kept out of every exclusion.
_ALWAYS = {("schemas",), ("id",), ("meta", "resourcetype")}

R = TypeVar("R")


@dataclass(frozen=True)
class ListQuery:
    """A list request's parameters, validated."""

    resource: Resource
    filter: str | None = None
    start_index: int = 1
    count: int = DEFAULT_COUNT
    sort_by: str | None = None
    descending: bool = False
    attributes: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def order_by(self) -> tuple[ColumnElement[Any], ...]:
        """The sort key (absent values last when ascending, first when descending); `page`
        adds the id after it so equal keys keep one order."""
        if self.sort_by is None:
            return ()
        key = sort_column(self.resource, self.sort_by)
        return (key.desc().nulls_first() if self.descending else key.asc().nulls_last(),)


def list_query(params: Mapping[str, Any], resource: Resource) -> ListQuery:
    """The list parameters of a query string (or a POST .search body): startIndex (1-based,
    below 1 read as 1), count (0 to 1000, default 100, negative read as 0), filter, sortBy,
    sortOrder, attributes and excludedAttributes. A ScimError (400 invalidValue) names the
    parameter that is wrong."""
    values = {str(k).lower(): v for k, v in params.items()}
    for name, value in values.items():
        # A filter's own limits are checked where it is read (invalidFilter).
        if name != "filter" and len(str(value)) > MAX_PARAMETER:
            raise invalid_value(f"{name} is longer than {MAX_PARAMETER:,} characters")
    start = _whole_number(values.get("startindex"), "startIndex")
    count = _whole_number(values.get("count"), "count")
    sort_by = _text(values.get("sortby"), "sortBy")
    if sort_by is not None:
        sort_column(resource, sort_by)
    order = (_text(values.get("sortorder"), "sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise invalid_value('sortOrder must be "ascending" or "descending"')
    return ListQuery(
        resource=resource,
        filter=_text(values.get("filter"), "filter"),
        start_index=1 if start is None else min(max(start, 1), MAX_START),
        count=DEFAULT_COUNT if count is None else min(max(count, 0), MAX_COUNT),
        sort_by=sort_by,
        descending=order == "descending",
        attributes=attribute_names(values.get("attributes"), "attributes"),
        excluded=attribute_names(values.get("excludedattributes"), "excludedAttributes"),
    )


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_value(f"{name} must be text")
    return value.strip() or None


def _whole_number(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?[0-9]{1,30}", text):
        raise invalid_value(f'{name} must be a whole number, not "{text[:40]}"')
    return int(text)


def attribute_names(value: Any, parameter: str) -> tuple[str, ...]:
    """A comma-separated list (or a JSON list) of attribute names, each checked."""
    if value is None:
        return ()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) and not isinstance(value, str):
        raise invalid_value(f"{parameter} must be a comma-separated list of attribute names")
    names = []
    for item in items:
        if not isinstance(item, str):
            raise invalid_value(f"{parameter} must list attribute names")
        name = item.strip()
        if not name:
            continue
        _, attr = _split_urn(name)
        if not _NAME.fullmatch(attr):
            raise invalid_value(f'{parameter}: "{name[:80]}" is not an attribute name')
        names.append(name)
    return tuple(names)


def _split_urn(name: str) -> tuple[str | None, str]:
    """(schema URN, attribute) as a filter reads them: the URN runs to the last colon."""
    if name.lower().startswith("urn:"):
        urn, _, attr = name.rpartition(":")
        return urn, attr
    return None, name


def _schema(resource: Resource) -> Schema:
    return USERS if resource == "User" else GROUPS


def sort_column(resource: Resource, sort_by: str) -> ColumnElement[Any]:
    """What sortBy orders by: case-insensitive strings by their case-folded key, strings in
    code point order (RFC 7644 3.4.2.3: no locale). A ScimError (400 invalidValue) when the
    resource cannot be sorted by it."""
    schema = _schema(resource)
    urn, attr = _split_urn(sort_by.strip())
    head, _, sub = attr.partition(".")
    try:
        path = AttrPath(attr=head, sub_attr=sub or None, uri=urn)
    except ValueError:
        path = None
    found = schema.lookup(path) if path is not None else None
    attribute: Attribute | None = None
    if found is not None:
        named, attribute = found
        if isinstance(named, Complex):
            if not named.sortable:
                found = None
            elif attribute is None and named.default is not None:
                attribute = named.sub(named.default)
        else:
            attribute = named
    if found is None or attribute is None:
        raise invalid_value(
            f'sortBy names "{sort_by[:80]}", which {resource.lower()}s here cannot be sorted by; '
            f"use {schema.sortable}"
        )
    return CodePoints(attribute.value) if attribute.kind == "string" else attribute.value


def page(
    session: Session,
    query: Select[R],
    start_index: int,
    count: int,
    *,
    order: Sequence[ColumnElement[Any]] = (),
) -> tuple[int, list[R]]:
    """(totalResults, the resources of one page). The query selects one SCIM entity; its id
    follows the sort key in ORDER BY, so pages neither repeat nor skip a resource."""
    entity = query.column_descriptions[0]["entity"]
    if entity is None or not hasattr(entity, "id"):
        raise TypeError("page() needs a query that selects a SCIM user or group")
    ordered = query.order_by(None).order_by(*order, entity.id)
    rows = (
        list(session.scalars(ordered.offset(max(start_index, 1) - 1).limit(count)).all())
        if count > 0
        else []
    )
    if start_index <= 1 and count > 0 and len(rows) < count:
        # The whole result fits in this first page (a lookup by userName does): no count.
        return len(rows), rows
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return total or 0, rows


def project(
    resource: Mapping[str, Any], attributes: Sequence[str], excluded: Sequence[str]
) -> dict[str, Any]:
    """A rendered resource with only the attributes asked for (or without the excluded ones).

    Names compare ignoring case, may be nested (name.givenName, emails.value) and may carry
    their schema URN (urn:...:enterprise:2.0:User:department, or an extension's URN for all of
    it). schemas, id and meta.resourceType are always kept; a name the resource does not have
    selects nothing."""
    result: dict[str, Any]
    if attributes:
        wanted = [p for p in (_path(resource, n) for n in attributes) if p is not None]
        result = _keep(resource, _tree([*wanted, *_ALWAYS]))
    else:
        result = dict(resource)
    for name in excluded:
        path = _path(resource, name)
        if path is not None:
            result = _drop(result, path)
    # Excluding schemas, id or all of meta leaves what is always returned.
    return _merge(result, _keep(resource, _tree(_ALWAYS)))


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(into)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        elif key not in merged:
            merged[key] = value
    return merged


def _path(resource: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    """A name as lower-case keys into the resource, or None when it names another schema."""
    lowered = name.strip().lower()
    if not lowered.startswith("urn:"):
        return tuple(lowered.split("."))
    keys = {str(k).lower() for k in resource}
    # The longest schema first: an extension's URN extends the core one's prefix.
    for urn in sorted((str(s).lower() for s in resource.get("schemas", [])), key=len, reverse=True):
        inside = lowered == urn or lowered.startswith(urn + ":")
        if not inside:
            continue
        rest = lowered[len(urn) + 1 :]
        if urn in keys:
            return (urn, *rest.split(".")) if rest else (urn,)
        # The core schema: its attributes sit at the top level.
        return tuple(rest.split(".")) if rest else ("*",)
    return None


def _tree(paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """Paths as nested dicts; True marks a whole attribute."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for i, key in enumerate(path):
            if node.get(key) is True:
                break
            if i == len(path) - 1:
                node[key] = True
            else:
                node = node.setdefault(key, {})
    return tree


def _keep(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        kept = [_keep(item, tree) for item in value if isinstance(item, Mapping)]
        return [item for item in kept if item]
    if not isinstance(value, Mapping):
        return None
    result: dict[str, Any] = {}
    for key, item in value.items():
        folded = str(key).lower()
        if tree.get("*") is True and not folded.startswith("urn:"):
            result[key] = item
            continue
        wanted = tree.get(folded)
        if wanted is True:
            result[key] = item
        elif isinstance(wanted, dict):
            kept = _keep(item, wanted)
            if kept:
                result[key] = kept
    return result


def _drop(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, list):
        dropped = [_drop(item, path) for item in value]
        return [item for item in dropped if item]
    if not isinstance(value, Mapping):
        return value
    if path == ("*",):
        # The core schema's URN alone: every attribute outside the extensions.
        return {k: v for k, v in value.items() if str(k).lower().startswith("urn:")}
    result: dict[str, Any] = {}
    for key, item in value.items():
        if str(key).lower() != path[0]:
            result[key] = item
        elif len(path) > 1:
            kept = _drop(item, path[1:])
            if kept:
                result[key] = kept
    return result
