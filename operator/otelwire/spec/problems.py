"""Typed validation problems that carry the field path.

Every consumer of a MonitoredService -- ``otelwire render`` on stderr, the
operator's ``ConfigValid`` condition, the API server's CEL messages -- must say
the same thing about the same mistake.  A :class:`SpecProblem` is that thing:
a dotted field path (``spec.tracing.otlp.endpoint``) and a sentence a person can
act on.  :class:`InvalidSpec` carries a list of them; it is raised by
:func:`otelwire.spec.parse_monitored_service` and read by the CLI and the
kopf shell, which only format it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a MonitoredService, at one field."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidSpec(ValueError):
    """A MonitoredService that cannot be planned; ``problems`` says why."""

    def __init__(self, problems: Sequence[SpecProblem], resource: str = "") -> None:
        self.problems = tuple(problems)
        self.resource = resource
        super().__init__("; ".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem, prefixed with the resource when known."""
        prefix = f"{self.resource}: " if self.resource else ""
        return [f"{prefix}{p}" for p in self.problems]


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _field(model: Any, alias: str) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, info in model.model_fields.items():
            if alias in (name, info.alias):
                return info.annotation
    return None


def _path(loc: Iterable[Any], root: str, model: Any = None) -> str:
    """A dotted path like the API server's: list indexes and map keys in brackets.

    With ``model`` the path follows the model's types, so a map key containing
    dots (``resourceAttributes[deployment.environment]``) is told from a field.
    """
    parts: list[str] = [root] if root else []
    current = model
    for item in loc:
        if item in ("function-after", "function-before", "function-wrap", "[key]"):
            continue
        current = _unwrap(current)
        if isinstance(item, int) or typing.get_origin(current) is dict:
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
            args = typing.get_args(current)
            current = args[-1] if args else None
        else:
            parts.append(str(item))
            current = _field(current, str(item))
    return ".".join(parts)


_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(error: Any) -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", ""))
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind == "extra_forbidden":
        return "unknown field; check its spelling against `kubectl explain monitoredservice.spec`"
    if kind == "missing":
        return "required field is missing"
    return msg


def problems_from(error: ValidationError, root: str = "spec", model: Any = None) -> list[SpecProblem]:
    """Turn pydantic's errors into problems with dotted camelCase paths (``model``: the validated class)."""
    problems: list[SpecProblem] = []
    for item in error.errors():
        loc = [part for part in item["loc"] if not str(part).startswith("function-")]
        problems.append(SpecProblem(_path(loc, root, model), _message(item)))
    return problems
