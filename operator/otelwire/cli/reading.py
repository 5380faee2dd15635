"""Reading Kubernetes manifests from files and stdin, with errors people can act on."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


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


def _files(paths: Sequence[str]) -> Iterator[tuple[str, str]]:
    for raw in paths:
        if raw == "-":
            yield "<stdin>", sys.stdin.read()
            continue
        path = Path(raw)
        if path.is_dir():
            children = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
            if not children:
                raise ReadError(f"{raw}: directory holds no .yaml, .yml or .json files")
            for child in children:
                yield str(child), child.read_text(encoding="utf-8")
            continue
        try:
            yield raw, path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ReadError(f"{raw}: no such file") from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
            raise ReadError(f"{raw}: cannot read: {error}") from None


def read_documents(paths: Sequence[str]) -> list[Document]:
    """All documents in ``paths`` (``-`` is stdin), ``List`` kinds expanded, empty ones skipped."""
    documents: list[Document] = []
    for source, text in _files(paths):
        try:
            loaded = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise ReadError(f"{source}{where}: invalid YAML: {problem}") from None
        for index, body in enumerate(loaded):
            if body is None:
                continue
            if not isinstance(body, dict):
                raise ReadError(f"{source}: document {index + 1} is a {type(body).__name__}, not a Kubernetes object")
            if body.get("kind") == "List" or (str(body.get("kind", "")).endswith("List") and "items" in body):
                for item in body.get("items") or []:
                    if isinstance(item, dict):
                        documents.append(Document(source, index, item))
                continue
            documents.append(Document(source, index, body))
    return documents
