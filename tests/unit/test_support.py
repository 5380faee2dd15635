"""The test oracles themselves: the JSON patch applier and the kubelet's $(VAR) expansion.

The planner tests trust these two helpers to judge patches and env order. The applier
is the ``jsonpatch`` package (RFC 6902); what is pinned here is what that judgement
relies on: it refuses what the API server's patch library (evanphx/json-patch) refuses
-- above all an ``add`` under a parent that does not exist, which the API server never
creates, so a planner patch that adds ``/metadata/annotations/...`` to a pod without
annotations fails here as it would in a cluster -- it appends with ``-``, unescapes
``~1`` in keys, and leaves the document it is given alone. The expansion is checked
against Kubernetes' expansion test table
(``third_party/forked/golang/expansion/expand_test.go``).
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer
import pytest
from support import kubelet

# Each refused by the API server; jsonpatch raises one of its own errors or a pointer error.
PATCH_ERRORS = (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException)


@pytest.mark.parametrize(
    ("doc", "op"),
    [
        pytest.param(
            {"metadata": {"name": "p"}},
            {"op": "add", "path": "/metadata/annotations/otelwire.io~1monitoredservice", "value": "x"},
            id="add-under-missing-annotations",
        ),
        pytest.param({"foo": "bar"}, {"op": "add", "path": "/baz/bat", "value": "qux"}, id="A12-missing-parent"),
        pytest.param(
            {"metadata": {"labels": None}}, {"op": "add", "path": "/metadata/labels/a", "value": "b"}, id="into-null"
        ),
        pytest.param({"foo": ["a"]}, {"op": "add", "path": "/foo/2", "value": "x"}, id="index-past-end"),
        pytest.param({"foo": ["a"]}, {"op": "add", "path": "/foo/01", "value": "x"}, id="leading-zero-index"),
        pytest.param({"foo": ["a"]}, {"op": "replace", "path": "/foo/1", "value": "x"}, id="replace-missing"),
        pytest.param({"foo": 1}, {"op": "remove", "path": "/bar"}, id="remove-missing"),
        pytest.param({"baz": "qux"}, {"op": "test", "path": "/baz", "value": "bar"}, id="A9-test-fails"),
    ],
)
def test_the_patch_applier_refuses_what_the_api_server_refuses(doc: dict[str, Any], op: dict[str, Any]) -> None:
    with pytest.raises(PATCH_ERRORS):
        jsonpatch.apply_patch(doc, [op])


def test_the_patch_applier_appends_unescapes_and_leaves_the_input_alone() -> None:
    pod: dict[str, Any] = {
        "metadata": {"annotations": {"a/b": "1"}},
        "spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "a"}]}]},
    }
    patch: list[dict[str, Any]] = [
        {"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "B", "value": "b"}},
        {"op": "add", "path": "/metadata/annotations/otelwire.io~1monitoredservice", "value": "x"},
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
    ]
    patched = jsonpatch.apply_patch(pod, patch)
    assert patched == {
        "metadata": {"annotations": {"a/b": "2", "otelwire.io/monitoredservice": "x"}},
        "spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]}]},
    }
    assert pod["metadata"]["annotations"] == {"a/b": "1"}
    assert pod["spec"]["containers"][0]["env"] == [{"name": "A", "value": "a"}]


_MAPPING = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}

EXPANSION: list[Any] = [
    pytest.param("$(VAR_A)", "A", [], id="whole"),
    pytest.param("___$(VAR_B)___", "___B___", [], id="inside"),
    pytest.param("$(VAR_A)-$(VAR_A)", "A-A", [], id="twice"),
    pytest.param("$(VAR_A)-1", "A-1", [], id="prefix"),
    pytest.param("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C", [], id="three"),
    pytest.param("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A", [], id="escaped"),
    pytest.param("$$(VAR_DNE)", "$(VAR_DNE)", [], id="escaped-undefined"),
    pytest.param("$(VAR_DNE)", "$(VAR_DNE)", ["VAR_DNE"], id="undefined"),
    pytest.param("$(VAR_REF)", "$(VAR_A)", [], id="no-recursion"),
    pytest.param("$(VAR_EMPTY)", "", [], id="empty"),
    pytest.param("$(VAR_A", "$(VAR_A", [], id="unclosed"),
    pytest.param("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)", [], id="many-dollars"),
    pytest.param("f000-$$VAR_A", "f000-$VAR_A", [], id="escaped-bare"),
    pytest.param("$VAR_A", "$VAR_A", [], id="bare"),
    pytest.param("foo$", "foo$", [], id="trailing-dollar"),
    pytest.param("$()", "$()", [""], id="empty-name"),
]


@pytest.mark.parametrize(("text", "expected", "missing"), EXPANSION)
def test_kubelet_expansion(text: str, expected: str, missing: list[str]) -> None:
    assert kubelet.expand(text, _MAPPING.get) == (expected, missing)


def test_resolve_sees_only_earlier_variables() -> None:
    env: list[dict[str, Any]] = [
        {"name": "B", "value": "$(A)-b"},
        {"name": "A", "value": "a"},
        {"name": "C", "value": "$(A)-$(POD)"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "D", "value": "$(POD)"},
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    result = kubelet.resolve(env)
    assert result.values["B"] == "$(A)-b"
    assert result.values["C"] == "a-$(POD)"
    assert result.values["D"] == kubelet.DOWNWARD_VALUES["metadata.name"]
    assert result.values["S"] == "<secretKeyRef>"
    assert result.unresolved == [("B", "A"), ("C", "POD")]
