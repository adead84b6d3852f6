"""PATCH operations (RFC 7644 3.5.2) on a SCIM document, with what Entra and Okta send:
capitalised ops, ``Add`` on single-valued attributes, a replace with no path whose value
carries dotted or URN-qualified keys, value paths such as ``emails[type eq "work"].value``.

Paths are parsed by scim2-models' grammar; the operation itself works on the plain document
(``user_attributes.document``), which is then read again as a whole, so a patched user is
held to exactly the rules of a created one. Attributes the portal does not keep (title,
phoneNumbers, manager, ...) are accepted and dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scim2_models import Path
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from switchboard.scim.errors import invalid_path, invalid_value, no_target

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_PREFIXES = (
    "urn:ietf:params:scim:schemas:core:2.0:user",
    "urn:ietf:params:scim:schemas:core:2.0:group",
)
MAX_OPERATIONS = 1000

# A target the operation acts on: (container dict, canonical key).
Apply = Callable[[str, dict[str, Any], str, Any], None]


def operations(body: object) -> list[tuple[str, str | None, Any]]:
    """The (op, path, value) of a PatchOp body, op lower-cased, checked."""
    if not isinstance(body, Mapping):
        raise invalid_value("the request body must be a JSON object")
    attrs = {str(k).lower(): v for k, v in body.items()}
    schemas = attrs.get("schemas")
    if not isinstance(schemas, list) or PATCH_OP.lower() not in [str(s).lower() for s in schemas]:
        raise invalid_value(f'a PATCH body must have schemas ["{PATCH_OP}"]')
    ops = attrs.get("operations")
    if not isinstance(ops, list) or not ops:
        raise invalid_value("Operations must be a non-empty list of operations")
    if len(ops) > MAX_OPERATIONS:
        raise invalid_value(f"a PATCH may carry at most {MAX_OPERATIONS} operations")
    found: list[tuple[str, str | None, Any]] = []
    for index, raw in enumerate(ops, start=1):
        if not isinstance(raw, Mapping):
            raise invalid_value(f"operation {index} must be an object")
        op = {str(k).lower(): v for k, v in raw.items()}
        name = str(op.get("op", "")).strip().lower()
        if name not in ("add", "replace", "remove"):
            raise invalid_value(
                f"operation {index}: op must be add, replace or remove, not {op.get('op')!r}"
            )
        path = op.get("path")
        if path is not None and not isinstance(path, str):
            raise invalid_path(f"operation {index}: path must be a string")
        path = path.strip() if isinstance(path, str) and path.strip() else None
        if name == "remove" and path is None:
            raise no_target(f"operation {index}: remove needs a path")
        if name != "remove" and "value" not in op:
            raise invalid_value(f"operation {index}: {name} needs a value")
        found.append((name, path, op.get("value")))
    return found


def canonical_keys(doc: Mapping[str, Any]) -> dict[str, str]:
    return {k.lower(): k for k in doc}


def _key(container: dict[str, Any], name: str, known: Mapping[str, str]) -> str:
    """The key ``name`` has in ``container`` (names compare ignoring case)."""
    lowered = name.lower()
    for existing in container:
        if existing.lower() == lowered:
            return existing
    return known.get(lowered, name)


def _split_urn(name: str, extensions: tuple[str, ...]) -> tuple[str | None, str]:
    """``urn:...:User:department`` -> (the extension URN, "department")."""
    lowered = name.lower()
    for urn in extensions:
        if lowered.startswith(urn.lower() + ":"):
            return urn, name[len(urn) + 1 :]
    for core in CORE_PREFIXES:
        if lowered.startswith(core + ":"):
            return None, name[len(core) + 1 :]
    return None, name


def _matches(item: Mapping[str, Any], node: FilterNode) -> bool:
    """A value filter on one item of a multi-valued attribute (emails, members)."""
    if isinstance(node, LogicalExpr):
        results = (_matches(item, t) for t in node.terms)
        return all(results) if node.op == LogicalOperator.and_ else any(results)
    if isinstance(node, Not):
        return not _matches(item, node.expr)
    if isinstance(node, Present):
        value = _item_value(item, node.attr_path)
        return value not in (None, "", [])
    if isinstance(node, Comparison):
        value = _item_value(item, node.attr_path)
        wanted = node.value
        if isinstance(value, bool) or isinstance(wanted, bool):
            truth = str(value).lower() == str(wanted).lower()
            return truth if node.op == CompareOperator.eq else not truth
        left, right = str(value or "").lower(), str(wanted or "").lower()
        match node.op:
            case CompareOperator.eq:
                return value is not None and left == right
            case CompareOperator.ne:
                return left != right
            case CompareOperator.co:
                return right in left
            case CompareOperator.sw:
                return left.startswith(right)
            case CompareOperator.ew:
                return left.endswith(right)
            case CompareOperator.gt:
                return left > right
            case CompareOperator.ge:
                return left >= right
            case CompareOperator.lt:
                return left < right
            case CompareOperator.le:
                return left <= right
    raise invalid_path(f"the value filter {node} is not supported")


def _item_value(item: Mapping[str, Any], attr: AttrPath) -> Any:
    for key, value in item.items():
        if key.lower() == attr.attr.lower():
            return value
    return None


def _eq_defaults(node: FilterNode) -> dict[str, Any]:
    """What a value filter's ``eq`` terms say a new item holds (``type eq "work"``)."""
    if isinstance(node, Comparison) and node.op == CompareOperator.eq:
        return {node.attr_path.attr: node.value}
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        merged: dict[str, Any] = {}
        for term in node.terms:
            merged.update(_eq_defaults(term))
        return merged
    return {}


def set_value(container: dict[str, Any], key: str, value: Any, op: str) -> None:
    """Add or replace one attribute; ``add`` appends to a multi-valued one."""
    if value is None:
        return  # Entra never clears with null; a null is no change
    current = container.get(key)
    if op == "add" and isinstance(current, list):
        items = value if isinstance(value, list) else [value]
        container[key] = current + items
    elif op == "add" and isinstance(current, dict) and isinstance(value, Mapping):
        container[key] = {**current, **value}
    else:
        container[key] = value


def apply(
    doc: dict[str, Any],
    ops: list[tuple[str, str | None, Any]],
    *,
    extensions: tuple[str, ...],
    known: Mapping[str, str],
    multi_valued: Callable[[str, str, Any, dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Apply the operations to a copy of ``doc``; ``known`` maps lower-cased attribute names
    to their canonical spelling. ``multi_valued`` may take over an operation on a
    multi-valued attribute (a group's members): it returns True when it did."""
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in doc.items()}
    for op, path, value in ops:
        if path is None:
            if not isinstance(value, Mapping):
                raise invalid_value(f"{op} with no path needs an object of attributes as value")
            for name, item in value.items():
                _at(result, op, str(name), item, extensions, known, multi_valued)
        else:
            _at(result, op, path, value, extensions, known, multi_valued)
    return result


def _at(
    doc: dict[str, Any],
    op: str,
    path: str,
    value: Any,
    extensions: tuple[str, ...],
    known: Mapping[str, str],
    multi_valued: Callable[[str, str, Any, dict[str, Any]], bool] | None,
) -> None:
    # An extension's whole object: merge (add) or set (replace) its attributes.
    for urn in extensions:
        if path.lower() == urn.lower():
            if op == "remove":
                doc.pop(urn, None)
            elif isinstance(value, Mapping):
                target = doc.setdefault(urn, {})
                for name, item in value.items():
                    set_value(target, _key(target, str(name), known), item, op)
            else:
                raise invalid_value(f"the value for {urn} must be an object")
            return
    extension, rest = _split_urn(path, extensions)
    try:
        node = Path(rest).ast
    except Exception as exc:  # scim2-models raises several kinds on a bad path
        raise invalid_path(f"{path!r} is not a valid attribute path") from exc
    container = doc
    if extension is not None:
        container = doc.setdefault(extension, {})
    if isinstance(node, ValuePath):
        _value_path(container, op, node, value, known)
        return
    if not isinstance(node, AttrPath):
        raise invalid_path(f"{path!r} is not a path an operation can target")
    key = _key(container, node.attr, known)
    if multi_valued is not None and node.sub_attr is None and multi_valued(op, key, value, doc):
        return
    if node.sub_attr is None:
        if op == "remove":
            container.pop(key, None)
        else:
            set_value(container, key, value, op)
        return
    parent = container.get(key)
    sub = _key(parent if isinstance(parent, dict) else {}, node.sub_attr, known)
    if isinstance(parent, list):  # emails.value: every item
        for item in parent:
            if isinstance(item, dict):
                if op == "remove":
                    item.pop(sub, None)
                else:
                    item[sub] = value
        return
    if op == "remove":
        if isinstance(parent, dict):
            parent.pop(sub, None)
        return
    if not isinstance(parent, dict):
        parent = {}
        container[key] = parent
    set_value(parent, sub, value, op)


def _value_path(
    container: dict[str, Any], op: str, node: ValuePath, value: Any, known: Mapping[str, str]
) -> None:
    key = _key(container, node.attr_path.attr, known)
    items = container.get(key)
    items = [dict(i) for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []
    matched = [i for i in items if _matches(i, node.val_filter)]
    if op == "remove":
        if node.sub_attr is None:
            items = [i for i in items if i not in matched]
        else:
            for item in matched:
                item.pop(_key(item, node.sub_attr, known), None)
        container[key] = items
        return
    if not matched:
        # Entra adds to emails[type eq "work"].value when there is no work email yet.
        created = dict(_eq_defaults(node.val_filter))
        items.append(created)
        matched = [created]
    for item in matched:
        if node.sub_attr is None:
            if isinstance(value, Mapping):
                item.update(value)
            else:
                raise invalid_value(f"the value for {node} must be an object")
        else:
            item[_key(item, node.sub_attr, known)] = value
    container[key] = items
