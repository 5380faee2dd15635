"""Reading Kubernetes manifests from files and stdin, with errors people can act on."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from otelwire.plan.workloads import TEMPLATE_PATHS


class ReadError(Exception):
    """A file that cannot be read or parsed; the message names the file and line."""


@dataclass(frozen=True)
class Document:
    source: str
    index: int
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    def namespace(self, default: str) -> str:
        return str((self.body.get("metadata") or {}).get("namespace") or default)

    def label(self, default_namespace: str) -> str:
        return f"{self.kind} {self.namespace(default_namespace)}/{self.name or '<unnamed>'}"


def _string_map(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"{path} must be a mapping"
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            return f"{path} must map strings to strings (quote {key}: {item!r})"
    return None


def _metadata_problem(meta: Any, path: str) -> str | None:
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return f"{path} must be a mapping"
    for key in ("name", "namespace"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return f"{path}.{key} must be a string"
    for key in ("labels", "annotations"):
        problem = _string_map(meta.get(key), f"{path}.{key}")
        if problem:
            return problem
    owners = meta.get("ownerReferences")
    if owners is not None and not (isinstance(owners, list) and all(isinstance(o, dict) for o in owners)):
        return f"{path}.ownerReferences must be a list of mappings"
    return None


def _container_problem(container: Any, path: str) -> str | None:
    if not isinstance(container, dict):
        return f"{path} must be a mapping"
    if not isinstance(container.get("name"), str):
        return f"{path}.name must be a string"
    env = container.get("env")
    if env is not None and not isinstance(env, list):
        return f"{path}.env must be a list"
    for index, entry in enumerate(env or []):
        where = f"{path}.env[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return f"{where} must be a mapping with a string name"
        if entry.get("value") is not None and not isinstance(entry["value"], str):
            return f"{where}.value must be a string (quote it)"
        if entry.get("valueFrom") is not None and not isinstance(entry["valueFrom"], dict):
            return f"{where}.valueFrom must be a mapping"
    return None


def shape_problem(body: dict[str, Any]) -> str | None:
    """What makes ``body`` unlike any object the API server would accept, in the parts otelwire reads."""
    if not isinstance(body.get("kind", ""), str):
        return "kind must be a string"
    problem = _metadata_problem(body.get("metadata"), "metadata")
    path = TEMPLATE_PATHS.get(str(body.get("kind")))
    if problem or path is None:
        return problem
    node: Any = body
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if node is None:
        return None
    where = ".".join(path) or "<pod>"
    if not isinstance(node, dict):
        return f"{where} must be a mapping"
    prefix = f"{where}." if path else ""
    problem = _metadata_problem(node.get("metadata"), f"{prefix}metadata")
    spec = node.get("spec")
    if problem or spec is None:
        return problem
    if not isinstance(spec, dict):
        return f"{prefix}spec must be a mapping"
    for key in ("containers", "initContainers"):
        containers = spec.get(key)
        if containers is not None and not isinstance(containers, list):
            return f"{prefix}spec.{key} must be a list"
        for index, container in enumerate(containers or []):
            problem = _container_problem(container, f"{prefix}spec.{key}[{index}]")
            if problem:
                return problem
    return None


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReadError(f"{label}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReadError(f"{label}: cannot read: {error}") from None


def _files(paths: Sequence[str]) -> Iterator[tuple[str, str]]:
    for raw in paths:
        if raw == "-":
            try:
                yield "<stdin>", sys.stdin.buffer.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise ReadError(f"<stdin>: cannot read: {error}") from None
            continue
        path = Path(raw)
        if path.is_dir():
            children = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
            if not children:
                raise ReadError(f"{raw}: directory holds no .yaml, .yml or .json files")
            for child in children:
                yield str(child), _read(child, str(child))
            continue
        yield raw, _read(path, raw)


def read_documents(paths: Sequence[str]) -> list[Document]:
    """All documents in ``paths`` (``-`` is stdin), ``List`` kinds expanded, empty ones skipped."""
    documents: list[Document] = []
    for source, text in _files(paths):
        try:
            loaded = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = (getattr(error, "problem", None) or str(error)).splitlines()[0]
            raise ReadError(f"{source}{where}: invalid YAML: {problem}") from None
        for index, body in enumerate(loaded):
            if body is None:
                continue
            if not isinstance(body, dict):
                raise ReadError(f"{source}: document {index + 1} is a {type(body).__name__}, not a Kubernetes object")
            if body.get("kind") == "List" or (str(body.get("kind", "")).endswith("List") and "items" in body):
                items = body.get("items") or []
                if not isinstance(items, list):
                    raise ReadError(f"{source}: document {index + 1}: items of a {body.get('kind')} must be a list")
                members = [item for item in items if isinstance(item, dict)]
            else:
                members = [body]
            for member in members:
                problem = shape_problem(member)
                if problem:
                    meta = member.get("metadata")
                    name = meta.get("name") if isinstance(meta, dict) else None
                    label = f"{member.get('kind') or '<no kind>'} {name or '<unnamed>'}"
                    raise ReadError(f"{source}: document {index + 1} ({label}): {problem}")
                documents.append(Document(source, index, member))
    return documents
