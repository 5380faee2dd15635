"""What doctor reports: one finding per problem, with a fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
PROBLEM_SEVERITIES: tuple[Severity, ...] = ("error", "warning")


@dataclass(frozen=True)
class Finding:
    resource: str
    container: str | None
    check: str
    severity: Severity
    message: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_problem(self) -> bool:
        return self.severity in PROBLEM_SEVERITIES
