"""The test oracles themselves: the RFC 6902 applier and the kubelet's $(VAR) expansion.

The planner tests trust these two helpers to judge patches and env order, so
they are checked against the RFC's own examples and Kubernetes' expansion
test table (``third_party/forked/golang/expansion/expand_test.go``).
"""

from __future__ import annotations

from typing import Any

import pytest
from support import kubelet
from support.jsonpatch import PatchError, apply_patch

RFC_6902: list[Any] = [
    pytest.param(
        {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}, id="A1"
    ),
    pytest.param(
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
        id="A2",
    ),
    pytest.param({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}, id="A3"),
    pytest.param(
        {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}, id="A4"
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
        id="A5",
    ),
    pytest.param(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        id="A6",
    ),
    pytest.param(
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
        id="A7",
    ),
    pytest.param(
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
        id="A8",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
        id="A10",
    ),
    pytest.param(
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
        id="A16",
    ),
    pytest.param(
        {"a/b": 1, "m~n": 2}, [{"op": "replace", "path": "/a~1b", "value": 3}], {"a/b": 3, "m~n": 2}, id="escape"
    ),
]


@pytest.mark.parametrize(("doc", "ops", "expected"), RFC_6902)
def test_rfc_6902_examples(doc: dict[str, Any], ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert apply_patch(doc, ops) == expected


@pytest.mark.parametrize(
    ("doc", "op"),
    [
        pytest.param({"foo": "bar"}, {"op": "add", "path": "/baz/bat", "value": "qux"}, id="A12-missing-parent"),
        pytest.param({"baz": "qux"}, {"op": "test", "path": "/baz", "value": "bar"}, id="A9-test-fails"),
        pytest.param({"foo": ["a"]}, {"op": "add", "path": "/foo/2", "value": "x"}, id="index-past-end"),
        pytest.param({"foo": ["a"]}, {"op": "replace", "path": "/foo/1", "value": "x"}, id="replace-missing"),
        pytest.param({"foo": None}, {"op": "add", "path": "/foo/labels", "value": {}}, id="into-null"),
        pytest.param({"foo": 1}, {"op": "remove", "path": "/bar"}, id="remove-missing"),
    ],
)
def test_rfc_6902_errors(doc: dict[str, Any], op: dict[str, Any]) -> None:
    with pytest.raises(PatchError):
        apply_patch(doc, [op])


def test_apply_patch_leaves_the_input_alone() -> None:
    doc: dict[str, Any] = {"a": {"b": [1]}}
    apply_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 2}])
    assert doc == {"a": {"b": [1]}}


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
