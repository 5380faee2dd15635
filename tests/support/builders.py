"""Small builders of pod-spec pieces the planner's and the reviewer's tables share."""

from __future__ import annotations

from typing import Any


def container(name: str = "app", env: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A container named ``name`` with image ``example/<name>:1``, its ``env`` and any other fields."""
    out: dict[str, Any] = {"name": name, "image": f"example/{name}:1"}
    if env is not None:
        out["env"] = env
    out.update(extra)
    return out


def lit(name: str, value: str) -> dict[str, Any]:
    """A literal env entry."""
    return {"name": name, "value": value}
