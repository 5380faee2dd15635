"""A small RFC 6902 (JSON Patch) applier, strict about paths, for checking the webhook's patches.

It implements ``add``, ``remove``, ``replace``, ``move``, ``copy`` and ``test``
the way the API server's patch library does: ``add`` to an array index inserts
(``-`` appends), ``add`` to an existing object member replaces it, and a path
whose parent does not exist is an error rather than being created.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any


class PatchError(Exception):
    """The patch cannot be applied to the document."""


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"pointer {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, for_add: bool) -> int:
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"{token!r} is not an array index")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise PatchError(f"index {index} out of range for an array of {len(container)}")
    return index


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("the whole document cannot be the target here")
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"{pointer}: {token!r} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise PatchError(f"{pointer}: cannot descend into {type(node).__name__}")
    if not isinstance(node, dict | list):
        raise PatchError(f"{pointer}: parent is a {type(node).__name__}, not an object or array")
    return node, tokens[-1]


def _get(doc: Any, pointer: str) -> Any:
    node = doc
    for token in _tokens(pointer):
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"{pointer}: {token!r} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise PatchError(f"{pointer}: cannot descend into {type(node).__name__}")
    return node


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, list):
        parent.insert(_index(parent, token, for_add=True), value)
    else:
        parent[token] = value
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    parent, token = _parent(doc, pointer)
    if isinstance(parent, list):
        del parent[_index(parent, token, for_add=False)]
    else:
        if token not in parent:
            raise PatchError(f"{pointer}: nothing to remove")
        del parent[token]
    return doc


def apply_patch(document: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> Any:
    """Return a patched deep copy of ``document``; raise :class:`PatchError` on any invalid operation."""
    doc: Any = copy.deepcopy(dict(document))
    for operation in operations:
        op, path = operation.get("op"), operation.get("path")
        if not isinstance(path, str):
            raise PatchError(f"operation {operation!r} has no path")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation["value"]))
        elif op == "remove":
            doc = _remove(doc, path)
        elif op == "replace":
            _get(doc, path)
            doc = _add(_remove(doc, path), path, copy.deepcopy(operation["value"])) if path else operation["value"]
        elif op in ("move", "copy"):
            source = str(operation["from"])
            value = copy.deepcopy(_get(doc, source))
            if op == "move":
                if path.startswith(source + "/"):
                    raise PatchError("cannot move a value into itself")
                doc = _remove(doc, source)
            doc = _add(doc, path, value)
        elif op == "test":
            if _get(doc, path) != operation["value"]:
                raise PatchError(f"test failed at {path}")
        else:
            raise PatchError(f"unknown op {op!r}")
    return doc
