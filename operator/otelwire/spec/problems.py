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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


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


def _path(loc: Iterable[Any], root: str) -> str:
    parts: list[str] = [root] if root else []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item in ("function-after", "function-before", "function-wrap"):
            continue
        else:
            parts.append(str(item))
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


def problems_from(error: ValidationError, root: str = "spec") -> list[SpecProblem]:
    """Turn pydantic's errors into problems with dotted camelCase paths."""
    problems: list[SpecProblem] = []
    for item in error.errors():
        loc = [part for part in item["loc"] if not str(part).startswith("function-")]
        problems.append(SpecProblem(_path(loc, root), _message(item)))
    return problems
