"""Turn a rendered container ``env`` list into the environment the kubelet would give the process.

The end-to-end tests start real services with exactly the variables otelwire
renders, without a cluster. Two things happen between a pod spec and a
process that the tests must reproduce faithfully, or they would prove nothing:

* ``valueFrom.fieldRef`` (downward API) entries get values from the pod; the
  tests substitute chosen values keyed by ``fieldPath``.
* ``$(VAR)`` references in ``value`` are expanded by the kubelet, and only
  against variables defined *earlier* in the same list; ``$$`` is an escaped
  ``$``; a reference to an unknown variable, or an unterminated ``$(``, stays
  literally in the value. otelwire's ordering (downward-API variables first,
  ``OTEL_RESOURCE_ATTRIBUTES`` after them) exists because of this rule, so an
  ordering bug must show up here as a literal ``$(OTEL_K8S_POD_NAME)``.

:func:`expand` is a line-by-line port of the kubelet's
``third_party/forked/golang/expansion`` (``Expand`` and
``tryReadVariableName``); :func:`container_env` mirrors the kubelet's
``makeEnvironmentVariables`` for the ``env`` list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_OPERATOR = "$"
_OPENER = "("
_CLOSER = ")"


def _try_read_variable_name(text: str) -> tuple[str, bool, int]:
    """Return (name or literal, is_variable, characters consumed) for text following a '$'."""
    first = text[0]
    if first == _OPERATOR:
        return first, False, 1  # "$$": an escaped operator
    if first == _OPENER:
        for i in range(1, len(text)):
            if text[i] == _CLOSER:
                return text[1:i], True, i + 1
        return _OPERATOR + _OPENER, False, 1  # unterminated "$(": kept as is
    return _OPERATOR + first, False, 1  # "$x": not an expression


def expand(value: str, defined: Mapping[str, str]) -> str:
    """Expand ``$(NAME)`` references in value exactly as the kubelet does.

    Names not in ``defined`` are left as the literal ``$(NAME)``.
    """
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(value):
        if value[cursor] == _OPERATOR and cursor + 1 < len(value):
            out.append(value[checkpoint:cursor])
            read, is_var, advance = _try_read_variable_name(value[cursor + 1 :])
            if is_var:
                out.append(defined.get(read, f"$({read})"))
            else:
                out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + value[checkpoint:]


def container_env(env: Sequence[Mapping[str, Any]], field_values: Mapping[str, str]) -> dict[str, str]:
    """Resolve a container's ``env`` list into the process environment.

    ``field_values`` maps a downward-API ``fieldPath`` (``metadata.name``,
    ``spec.nodeName``, ...) to the value the pod would have. Secret, ConfigMap
    and resource references are not something otelwire injects, so they raise.
    """
    resolved: dict[str, str] = {}
    for entry in env:
        name = str(entry["name"])
        value_from = entry.get("valueFrom")
        if value_from is not None:
            field_ref = value_from.get("fieldRef")
            if field_ref is None:
                raise ValueError(f"env {name}: only fieldRef is supported in valueFrom, got {value_from!r}")
            path = str(field_ref["fieldPath"])
            if path not in field_values:
                raise ValueError(f"env {name}: no test value for downward-API fieldPath {path!r}")
            resolved[name] = field_values[path]
        else:
            raw = entry.get("value")
            text = "" if raw is None else str(raw)
            # The kubelet skips expansion of empty values; expand("") is "" anyway.
            resolved[name] = expand(text, resolved)
    return resolved
