"""Unit tests for the kubelet-style env resolution the end-to-end tests rely on.

If this helper expanded more generously than the kubelet (say, forward
references), the end-to-end tests could pass on a plan that breaks in a real
pod; the cases below are the kubelet's own expansion rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from .kubeenv import container_env, expand


@pytest.mark.parametrize(
    ("value", "defined", "expected"),
    [
        ("plain", {}, "plain"),
        ("", {"A": "x"}, ""),
        ("$(A)", {"A": "x"}, "x"),
        ("k=$(A),j=$(B)", {"A": "x", "B": "y"}, "k=x,j=y"),
        ("$(A)$(A)", {"A": "x"}, "xx"),
        ("$(MISSING)", {"A": "x"}, "$(MISSING)"),
        ("pre-$(MISSING)-post", {}, "pre-$(MISSING)-post"),
        ("$$(A)", {"A": "x"}, "$(A)"),  # escaped: no expansion
        ("$$$(A)", {"A": "x"}, "$x"),
        ("$$", {}, "$"),
        ("a$$b", {}, "a$b"),
        ("$", {}, "$"),  # trailing operator stays
        ("a$", {}, "a$"),
        ("$A", {"A": "x"}, "$A"),  # only $(...) is a reference
        ("$(A", {"A": "x"}, "$(A"),  # unterminated
        ("$(A$(B)", {"A": "x", "B": "y"}, "$(A$(B)"),  # name "A$(B" is unknown
        ("$()", {}, "$()"),
        ("$()", {"": "empty-name"}, "empty-name"),
        ("$(A)", {"A": ""}, ""),  # defined but empty expands to empty
        ("$(A)", {"A": "$(B)", "B": "y"}, "$(B)"),  # no recursive expansion
        ("100%$(A)", {"A": "x"}, "100%x"),
    ],
)
def test_expand_matches_kubelet(value: str, defined: dict[str, str], expected: str) -> None:
    assert expand(value, defined) == expected


def test_container_env_resolves_downward_api_then_references_in_order() -> None:
    env: list[dict[str, Any]] = [
        {"name": "LATER_REF", "value": "pod=$(POD)"},  # POD is not defined yet: stays literal
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
        {"name": "ATTRS", "value": "k8s.pod.name=$(POD),k8s.namespace.name=$(NS),x=$(LATER_REF)"},
        {"name": "EMPTY"},
        {"name": "ESCAPED", "value": "$$(POD)"},
    ]
    got = container_env(env, {"metadata.name": "web-1", "metadata.namespace": "shop"})
    assert got == {
        "LATER_REF": "pod=$(POD)",
        "POD": "web-1",
        "NS": "shop",
        "ATTRS": "k8s.pod.name=web-1,k8s.namespace.name=shop,x=pod=$(POD)",
        "EMPTY": "",
        "ESCAPED": "$(POD)",
    }


def test_container_env_later_definition_overrides_and_sees_earlier_value() -> None:
    env = [
        {"name": "A", "value": "one"},
        {"name": "A", "value": "$(A)-two"},
    ]
    assert container_env(env, {}) == {"A": "one-two"}


def test_container_env_rejects_unknown_field_and_other_sources() -> None:
    with pytest.raises(ValueError, match=r"spec\.nodeName"):
        container_env([{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}], {})
    with pytest.raises(ValueError, match="only fieldRef"):
        container_env([{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}], {})
