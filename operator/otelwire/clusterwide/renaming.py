"""Collector rules that rename each service's aliases to its canonical name.

Java and Go services, dashboards and old SDK versions often call the same
service ``order_service``, ``OrderService`` and ``order-service``.  Instead of
touching every service, otelwire generates one OpenTelemetry Collector
``transform`` processor whose OTTL statements set ``service.name`` to the
canonical name wherever it equals a known alias, for traces, metrics and logs.
An alias claimed by two services (or equal to another service's name) is
ambiguous: it is left out of the rules and reported on every claimant.

Two languages stand between an alias and the collector, and each gets its own
quoting, applied in this order:

* OTTL (:func:`ottl_string`): an alias becomes a double-quoted OTTL string
  literal, which the collector unquotes as a Go string literal, so ``"`` and
  ``\\`` are escaped and any non-printable character is written as ``\\u``.
* The collector's configuration resolver (:func:`config_literal`): the
  collector expands ``${...}`` in every string of every config source
  (``${VAR}``, ``${env:VAR}``, ``${file:/path}``, ...; an unknown scheme stops
  it at start) and turns ``$$`` into ``$``.  Every ``$`` that came from user
  input is therefore doubled: each ``${`` is then preceded by an odd number of
  ``$`` (the resolver's escape), and the resolver's ``$$`` -> ``$`` gives the
  alias back exactly.  Refusing ``$`` in aliases would have worked too, but
  ``$`` is a valid character of a service name an SDK may report.

The statements spell the path with its context, ``resource.attributes``: given
the short ``attributes[...]`` in a resource context, the collector rewrites it
and logs the statements for the user to rewrite.  The snippet is plain YAML
without anchors, as a person would write it.  ``tests/partners/test_collector.py``
runs it in the real collector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from otelwire.spec.model import MonitoredService

PROCESSOR = "transform/otelwire-aliases"
DATA_KEY = "otelwire-aliases.yaml"
_PATH = 'resource.attributes["service.name"]'


@dataclass(frozen=True)
class Renaming:
    """Alias -> canonical service name, and the conflicts per MonitoredService key."""

    rules: dict[str, str]
    conflicts: dict[str, list[str]] = field(default_factory=dict)


def _ottl_char(char: str) -> str:
    if char in ('"', "\\"):
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def ottl_string(text: str) -> str:
    """``text`` as an OTTL string literal: double-quoted, read back by the collector as exactly ``text``."""
    return '"' + "".join(_ottl_char(char) for char in text) + '"'


def config_literal(text: str) -> str:
    """``text`` as a string value of collector configuration: every ``$`` doubled, so nothing is expanded."""
    return text.replace("$", "$$")


def statement(alias: str, target: str) -> str:
    """The OTTL statement renaming ``alias`` to ``target``, before :func:`config_literal`."""
    return f"set({_PATH}, {ottl_string(target)}) where {_PATH} == {ottl_string(alias)}"


def renaming(services: Sequence[MonitoredService]) -> Renaming:
    claims: dict[str, set[tuple[str, str]]] = defaultdict(set)  # alias -> {(ms key, service name)}
    names: dict[str, set[str]] = defaultdict(set)  # service name -> {ms keys}
    for ms in services:
        names[ms.service_name].add(ms.key)
        for alias in ms.spec.aliases:
            claims[alias].add((ms.key, ms.service_name))
    rules: dict[str, str] = {}
    conflicts: dict[str, list[str]] = defaultdict(list)
    for alias in sorted(claims):
        targets = {service for _, service in claims[alias]}
        claimants = sorted(key for key, _ in claims[alias])
        if len(targets) > 1:
            for key in claimants:
                others = ", ".join(k for k in claimants if k != key)
                conflicts[key].append(
                    f"alias {alias!r} is also claimed by {others}; it is left out of the collector rules"
                )
            continue
        (target,) = targets
        owners_of_name = names.get(alias, set())
        if owners_of_name:
            for key in claimants:
                conflicts[key].append(
                    f"alias {alias!r} is the service name of {', '.join(sorted(owners_of_name))}; "
                    "it is left out of the collector rules"
                )
            continue
        rules[alias] = target
    return Renaming(rules, dict(conflicts))


def processor_snippet(rules: dict[str, str]) -> str:
    """A collector config fragment defining the transform processor (merge it with ``--config``)."""
    statements = [config_literal(statement(alias, target)) for alias, target in sorted(rules.items())]

    def block() -> list[dict[str, Any]]:
        # A new list per signal: one list used three times would be dumped as a YAML anchor and aliases.
        return [{"context": "resource", "statements": list(statements)}] if statements else []

    config: dict[str, Any] = {
        "processors": {
            PROCESSOR: {
                "error_mode": "ignore",
                "trace_statements": block(),
                "metric_statements": block(),
                "log_statements": block(),
            }
        }
    }
    header = (
        "# Generated by otelwire from spec.aliases of all MonitoredServices.\n"
        f"# Add {PROCESSOR} to your pipelines' processors (see docs/collector.md).\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, width=1000, allow_unicode=True)


def configmap(rules: dict[str, str], name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "otelwire", "app.kubernetes.io/part-of": "otelwire"},
        },
        "data": {DATA_KEY: processor_snippet(rules)},
    }
