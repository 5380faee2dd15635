"""Generate the MonitoredService CRD from the model, so the two cannot disagree.

pydantic's JSON schema is close to, but not, a Kubernetes structural schema:
it uses ``$ref``/``$defs``, ``anyOf [X, null]`` for optional fields, titles,
``additionalProperties: false`` and ``uniqueItems``.  :func:`structural`
rewrites it: references are inlined, optionals become plain properties,
submodel defaults become ``{}`` (the API server then applies the nested
defaults itself), and the ``x-kubernetes-*`` extensions declared in the model
pass through.  The result goes to ``crds/`` and, from there, to the cluster.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import yaml

from otelwire.spec.model import (
    API_GROUP,
    API_VERSION,
    ATTRIBUTE_KEY_PATTERN,
    DEFAULT_NAME_RULE,
    KIND,
    LABEL_KEY_PATTERN,
    PLURAL,
    SHORT_NAME,
    MonitoredServiceSpec,
)
from otelwire.spec.status import MonitoredServiceStatus

_KEY_MESSAGES = {
    LABEL_KEY_PATTERN: "keys must be Kubernetes label keys: an optional DNS prefix and '/', then a name of "
    "at most 63 letters, digits, '-', '_' and '.'",
    ATTRIBUTE_KEY_PATTERN: "keys must be resource attribute names: letters, digits, '.', '_', '/' and '-' "
    "(no '=', ',' or spaces), e.g. deployment.environment",
}
_DROP = {"title", "additionalProperties", "uniqueItems", "$defs"}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            if rest.get("default", ...) is None:
                rest.pop("default")
            return _resolve({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    if "patternProperties" in node:
        # Structural schemas have no patternProperties: values go to additionalProperties and
        # the key pattern becomes a CEL rule with the same meaning.
        ((pattern, values),) = node["patternProperties"].items()
        node = {k: v for k, v in node.items() if k not in ("patternProperties", "propertyNames")}
        node["additionalProperties"] = values
        rule = {
            "rule": f"self.all(k, k.matches(r'{pattern}'))",
            "message": _KEY_MESSAGES.get(pattern, f"keys must match {pattern}"),
        }
        node["x-kubernetes-validations"] = [*node.get("x-kubernetes-validations", []), rule]
    node = {k: v for k, v in node.items() if k != "propertyNames"}
    for key, value in node.items():
        if key in _DROP:
            if key == "additionalProperties" and isinstance(value, dict):
                out[key] = _resolve(value, defs)
            continue
        if key == "properties":
            out[key] = {name: _resolve(sub, defs) for name, sub in value.items()}
        elif key == "required":
            continue  # optionality is the model's; the API server defaults what is missing
        else:
            out[key] = _resolve(value, defs)
    if out.get("type") == "object" and isinstance(out.get("default"), dict) and "properties" in out:
        out["default"] = {}
    return out


def _schema_of(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    resolved: dict[str, Any] = _resolve(raw, raw.get("$defs", {}))
    return resolved


def structural_spec_schema() -> dict[str, Any]:
    schema = _schema_of(MonitoredServiceSpec)
    schema["default"] = {}
    return schema


def structural_status_schema() -> dict[str, Any]:
    schema = _schema_of(MonitoredServiceStatus)
    # `default: {}` makes a new object come back with status.observedGeneration 0, so kstatus,
    # Flux and Argo CD see it as in progress until the operator has looked at it.
    schema["default"] = {}
    return schema


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and hasattr(candidate, "model_fields")


def _required_fields(schema: dict[str, Any], model: type[Any]) -> None:
    """Mark fields without a default as required, recursing into submodels and lists of them."""
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if field.is_required():
            schema.setdefault("required", []).append(alias)
        sub = schema.get("properties", {}).get(alias)
        if sub is None:
            continue
        annotation: Any = field.annotation
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if _is_model(annotation):
            _required_fields(sub, annotation)
        elif typing.get_origin(annotation) is list and _is_model(typing.get_args(annotation)[0]):
            _required_fields(sub["items"], typing.get_args(annotation)[0])


def crd_manifest() -> dict[str, Any]:
    spec_schema = structural_spec_schema()
    _required_fields(spec_schema, MonitoredServiceSpec)
    status_schema = structural_status_schema()
    from otelwire.spec.status import Condition

    _required_fields(status_schema["properties"]["conditions"]["items"], Condition)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{API_GROUP}",
            "labels": {"app.kubernetes.io/name": "otelwire", "app.kubernetes.io/part-of": "otelwire"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": [SHORT_NAME],
                "categories": ["otelwire", "observability"],
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Service", "type": "string", "jsonPath": ".status.serviceName"},
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {
                            "name": "Instrumented",
                            "type": "integer",
                            "jsonPath": ".status.workloads.instrumented",
                        },
                        {
                            "name": "Matched",
                            "type": "integer",
                            "jsonPath": ".status.workloads.matched",
                            "priority": 1,
                        },
                        {
                            "name": "Outdated",
                            "type": "integer",
                            "jsonPath": ".status.workloads.outdated",
                            "priority": 1,
                        },
                        {"name": "Mode", "type": "string", "jsonPath": ".spec.injection.mode", "priority": 1},
                        {
                            "name": "Reason",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
                            "priority": 1,
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "description": (
                                "MonitoredService wires one service's pods into end-to-end observability: "
                                "OpenTelemetry env, Istio and Prometheus naming, clock sync, and honest status."
                            ),
                            "type": "object",
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": f"APIVersion of this object: {API_GROUP}/{API_VERSION}.",
                                },
                                "kind": {"type": "string", "description": f"Kind of this object: {KIND}."},
                                # The API server forbids anything but `type` here (metadata is implicit).
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                            "x-kubernetes-validations": [DEFAULT_NAME_RULE.schema()],
                        }
                    },
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def crd_yaml() -> str:
    header = "# Generated by `otelwire crd` from otelwire.spec; do not edit by hand.\n"
    return header + yaml.dump(crd_manifest(), Dumper=_Dumper, sort_keys=False, width=120)
