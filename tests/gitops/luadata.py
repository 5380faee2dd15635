"""JSON data as a Lua table constructor, the shape Argo CD hands a health script.

Argo CD converts the resource's JSON into Lua tables (objects keyed by
string, arrays 1-based, ``null`` left out); this writes the same as Lua source
so the ``lua5.4`` binary can load it with ``dofile``.  lupa gets the Python
objects directly, so the two engines read the samples through independent
conversions.
"""

from __future__ import annotations

import math
from typing import Any


def lua_string(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 32 or code == 127:
            out.append(f"\\{code:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def lua_literal(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no JSON form")
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_literal(v) for v in value if v is not None) + "}"
    if isinstance(value, dict):
        items = (f"[{lua_string(str(k))}] = {lua_literal(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"{type(value).__name__} is not JSON data")
