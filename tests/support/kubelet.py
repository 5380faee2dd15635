"""The kubelet's view of a container's env: ``$(VAR)`` expansion in list order.

Kubernetes expands ``$(VAR)`` in an env value only when ``VAR`` is defined
*earlier* in the same container's env (or by the service links); an undefined
reference is left as the literal text ``$(VAR)`` and ``$$`` escapes a ``$``.
This is a transcription of ``third_party/forked/golang/expansion`` so the tests
can check that every reference otelwire writes actually resolves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# What the downward API gives for the field paths otelwire uses, in a made-up pod.
DOWNWARD_VALUES: dict[str, str] = {
    "metadata.name": "order-service-7d9f8c6b5-x2x9z",
    "metadata.namespace": "shop",
    "metadata.uid": "0b5c2a6e-1111-4222-8333-944445555666",
    "spec.nodeName": "node-1",
}

_REFERENCE = re.compile(r"\$\(([^)]*)\)")


def expand(text: str, lookup: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """Expand like the kubelet; return the result and the names that did not resolve."""
    out: list[str] = []
    missing: list[str] = []
    cursor = 0
    checkpoint = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            if following == "$":
                out.append("$")
                advance = 1
            elif following == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    if value is None:
                        missing.append(name)
                        out.append(f"$({name})")
                    else:
                        out.append(value)
                    advance = close - cursor
            else:
                out.append("$" + following)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out), missing


@dataclass
class ResolvedEnv:
    """The values a process would see, and every reference that stayed literal."""

    values: dict[str, str] = field(default_factory=dict)
    unresolved: list[tuple[str, str]] = field(default_factory=list)


def resolve(env: Sequence[Mapping[str, Any]], downward: Mapping[str, str] | None = None) -> ResolvedEnv:
    """Resolve a container's env list in order, the way the kubelet builds a process environment."""
    fields = dict(DOWNWARD_VALUES if downward is None else downward)
    result = ResolvedEnv()
    for entry in env:
        name = str(entry["name"])
        source = entry.get("valueFrom")
        if source is not None:
            field_ref = source.get("fieldRef") if isinstance(source, Mapping) else None
            if field_ref is not None:
                result.values[name] = fields.get(str(field_ref.get("fieldPath")), "")
            else:
                result.values[name] = f"<{next(iter(source), 'valueFrom')}>"
            continue
        value, missing = expand(str(entry.get("value") or ""), result.values.get)
        result.unresolved.extend((name, m) for m in missing)
        result.values[name] = value
    return result


def references(text: str) -> list[str]:
    """The ``$(VAR)`` names a value refers to (ignoring ``$$`` escapes)."""
    return _REFERENCE.findall(text.replace("$$", ""))
