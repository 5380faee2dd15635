"""The generated CustomResourceDefinition: checked in up to date, structural, documented, usable with kubectl.

The API server refuses non-structural schemas (or silently prunes what they
do not describe), so the rules of a structural schema are checked here on
every node rather than waiting for a control-plane test to fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from otelwire.crd import crd_manifest, crd_yaml
from otelwire.crd.generating import _KEY_MESSAGES
from otelwire.spec import model

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / "crds" / "monitoredservices.otelwire.io.yaml"
FORBIDDEN = ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "uniqueItems", "patternProperties", "title", "const")


def _version() -> dict[str, Any]:
    versions: list[dict[str, Any]] = crd_manifest()["spec"]["versions"]
    assert len(versions) == 1
    return versions[0]


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = _version()["schema"]["openAPIV3Schema"]
    return schema


def _nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path, not descending below x-kubernetes-preserve-unknown-fields."""
    yield path, node
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return
    for name, sub in (node.get("properties") or {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def _properties(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for where, sub in _nodes(node, path):
        for name, prop in (sub.get("properties") or {}).items():
            yield f"{where}.{name}", prop


def test_checked_in_crd_is_up_to_date() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == crd_yaml(), (
        "crds/monitoredservices.otelwire.io.yaml is stale: run `make crd` and commit the result"
    )


def test_crd_yaml_parses_to_the_manifest() -> None:
    assert yaml.safe_load(crd_yaml()) == crd_manifest()


def test_no_forbidden_keywords() -> None:
    found = [(path, key) for path, node in _nodes(_schema()) for key in FORBIDDEN if key in node]
    assert found == []


def test_every_node_has_a_type() -> None:
    untyped = [path or "<root>" for path, node in _nodes(_schema()) if "type" not in node]
    assert untyped == []


def test_additional_properties_never_alongside_properties() -> None:
    both = [path for path, node in _nodes(_schema()) if "properties" in node and "additionalProperties" in node]
    assert both == []
    assert all(
        isinstance(node["additionalProperties"], dict)
        for _, node in _nodes(_schema())
        if "additionalProperties" in node
    ), "additionalProperties: false is not structural"


def test_every_property_has_a_description() -> None:
    # The API server allows nothing but `type: object` on the root's metadata.
    missing = [path for path, prop in _properties(_schema()) if not str(prop.get("description", "")).strip()]
    assert missing == [".metadata"]
    assert _schema()["properties"]["metadata"] == {"type": "object"}


def test_defaults_are_valid_for_their_type() -> None:
    python_types = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}
    wrong = [
        path
        for path, node in _nodes(_schema())
        if "default" in node and not isinstance(node["default"], python_types[node["type"]])
    ]
    assert wrong == []
    enum_wrong = [
        path
        for path, node in _nodes(_schema())
        if "default" in node and "enum" in node and node["default"] not in node["enum"]
    ]
    assert enum_wrong == []


def test_required_fields_exist() -> None:
    for path, node in _nodes(_schema()):
        for name in node.get("required") or []:
            assert name in (node.get("properties") or {}), f"{path}: required {name} is not a property"


def test_names_short_name_and_scope() -> None:
    spec = crd_manifest()["spec"]
    assert crd_manifest()["metadata"]["name"] == "monitoredservices.otelwire.io"
    assert spec["group"] == "otelwire.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "MonitoredService"
    assert spec["names"]["plural"] == "monitoredservices"
    assert spec["names"]["shortNames"] == ["msvc"]
    assert _version()["name"] == "v1alpha1"
    assert _version()["served"] is True and _version()["storage"] is True


def test_status_subresource() -> None:
    assert _version()["subresources"] == {"status": {}}
    assert "status" in _schema()["properties"]


def test_printer_columns() -> None:
    columns = _version()["additionalPrinterColumns"]
    default = [c["name"].upper() for c in columns if c.get("priority", 0) == 0]
    assert default == ["SERVICE", "READY", "INSTRUMENTED", "AGE"]
    by_name = {c["name"].upper(): c for c in columns}
    assert by_name["SERVICE"]["jsonPath"] == ".status.serviceName"
    assert by_name["READY"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert by_name["INSTRUMENTED"]["jsonPath"] == ".status.workloads.instrumented"
    assert (by_name["AGE"]["type"], by_name["AGE"]["jsonPath"]) == ("date", ".metadata.creationTimestamp")


def test_every_json_path_points_into_the_schema() -> None:
    properties = {path for path, _ in _properties(_schema())}
    for column in _version()["additionalPrinterColumns"]:
        path = column["jsonPath"].split("[")[0]
        if path.startswith(".metadata."):
            continue
        assert path in properties, column


def _validations() -> list[tuple[str, dict[str, str]]]:
    return [(path, rule) for path, node in _nodes(_schema()) for rule in node.get("x-kubernetes-validations") or []]


def test_every_cel_rule_of_the_model_is_in_the_crd_once() -> None:
    rules = [rule["rule"] for _, rule in _validations()]
    for cel in model.ALL_CEL_RULES:
        assert rules.count(cel.rule) == 1, cel.message


def test_every_cel_rule_in_the_crd_comes_from_the_model() -> None:
    """Rules are the model's cross-field checks, or map-key patterns generated from it."""
    known = {c.rule: c.message for c in model.ALL_CEL_RULES}
    for path, rule in _validations():
        if rule["rule"] in known:
            assert rule["message"] == known[rule["rule"]]
        else:
            assert rule["message"] in _KEY_MESSAGES.values(), (path, rule)
            assert rule["rule"].startswith("self.all(k, k.matches(")


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        pytest.param(
            ".spec.selector",
            model.SELECTOR_EMPTY_RULE,
            id="selector-empty",
        ),
        pytest.param(".spec.selector.matchExpressions[]", model.SELECTOR_OPERATOR_RULE, id="selector-operator"),
        pytest.param(".spec.tracing.otlp", model.OTLP_PORT_RULE, id="otlp-port"),
        pytest.param(".spec.tracing.sampler", model.SAMPLER_RATIO_RULE, id="sampler-ratio"),
        pytest.param(".spec.tracing.propagators", model.PROPAGATORS_UNIQUE_RULE, id="propagators"),
        pytest.param("", model.DEFAULT_NAME_RULE, id="root"),
    ],
)
def test_cel_rules_sit_on_their_objects(path: str, rule: model.Cel) -> None:
    assert (path, rule.schema()) in [(p, dict(r)) for p, r in _validations()]


def test_optional_fields_are_guarded_with_has() -> None:
    """A rule reading a field without a default must guard it with has(): "no such key" is an error, not false."""
    nodes = dict(_nodes(_schema()))
    for path, rule in _validations():
        node = nodes[path]
        required = set(node.get("required") or []) | ({"metadata"} if path == "" else set())
        for name, sub in (node.get("properties") or {}).items():
            if f"self.{name}" in rule["rule"] and "default" not in sub and name not in required:
                assert f"has(self.{name})" in rule["rule"], (path, name, rule["rule"])


def test_spec_defaults_to_an_empty_object() -> None:
    assert _schema()["properties"]["spec"]["default"] == {}
    assert (
        _schema()["properties"]["spec"]["properties"]["tracing"]["properties"]["otlp"]["properties"]["protocol"][
            "default"
        ]
        == "http/protobuf"
    )


def test_kopf_state_is_preserved() -> None:
    kopf = _schema()["properties"]["status"]["properties"]["kopf"]
    assert kopf == {
        "description": kopf["description"],
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
