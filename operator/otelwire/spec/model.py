"""The MonitoredService model: fields, defaults and validation, in one place.

This module is the single source of truth for what a MonitoredService may
say.  The CRD's OpenAPI schema (``otelwire.crd``) is generated from these
classes, so every ``description`` here is what ``kubectl explain`` shows and
every default here is what the API server fills in.  Rules that a schema can
carry (types, enums, patterns, ranges) are declared with the field; cross-field
rules are declared once as :class:`Cel` entries next to the Python check that
enforces the same thing offline, with the same message, so ``otelwire render``
rejects what ``kubectl apply`` rejects.  What only a running operator can
judge (is the collector reachable, do names agree) is left to
``otelwire.assess``.

Data flows on to ``otelwire.plan``, which turns a validated model into env
vars, labels and annotations.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from otelwire.spec import endpoints
from otelwire.spec.problems import InvalidSpec, SpecProblem, problems_from

API_GROUP = "otelwire.io"
API_VERSION = "v1alpha1"
KIND = "MonitoredService"
PLURAL = "monitoredservices"
SHORT_NAME = "msvc"

# The patterns below are judged by three engines: Go's RE2 (the API server, from the CRD), Rust's
# regex (pydantic's `pattern=`) and Python's re (the validators here). They agree only on explicit
# classes -- \s, \d and \w mean different things in each -- and on whole-string matches: Python's
# `$` also matches before a final newline, so the validators use re.fullmatch.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DEFAULT_NAME_LABEL = "app.kubernetes.io/name"
DEFAULT_OTLP_HOST = "otel-collector.observability.svc"
RATIO_PATTERN = r"^(0(\.[0-9]{1,9})?|1(\.0{1,9})?)$"
DURATION_PATTERN = r"^[0-9]{1,6}(ms|s)$"
ATTRIBUTE_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$"
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
# No '=', ',' and no ASCII whitespace (\v included), spelt out: Rust's \s (pydantic) also matches
# Unicode spaces and Go's RE2 \s (the API server) does not match \v.
ALIAS_PATTERN = r"^[^\t\n\v\f\r\x20,=]+$"

PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace", "none")
RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
ARGUMENT_SAMPLERS = ("jaeger_remote", "parentbased_jaeger_remote", "xray")

Propagator = Literal["tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace", "none"]
SamplerType = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "parentbased_jaeger_remote",
    "jaeger_remote",
    "xray",
]


@dataclass(frozen=True)
class Cel:
    """A cross-field rule for the API server (``x-kubernetes-validations``).

    The same rule is enforced offline by a validator of the model it is
    attached to, raising exactly ``message`` (reported at ``field_path``);
    the cases in ``tests/cel_cases.py``, run offline by ``tests/unit/test_spec.py``
    and against the API server by the control-plane tests, keep the two in step.
    """

    rule: str
    message: str
    field_path: str = ""

    def schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path:
            out["fieldPath"] = self.field_path
        return out


def cel(*rules: Cel) -> dict[str, Any]:
    return {"x-kubernetes-validations": [r.schema() for r in rules]}


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # Like the API server: "9464" is not an integer and "yes" is not a boolean.
        strict=True,
    )


# ----------------------------------------------------------------- service names


def check_service_name(value: str) -> str:
    """A service name is a literal DNS-1123 label: never empty, never ``$(VAR)``."""
    if "$(" in value:
        raise ValueError(
            f"{value!r} contains '$(': Kubernetes expands $(VAR) only for variables defined earlier "
            "in the container's env, and an undefined or empty one gives unknown_service; write the "
            "name literally"
        )
    if not value.strip():
        raise ValueError("must not be empty: an empty OTEL_SERVICE_NAME shows up as unknown_service")
    if len(value) > 63 or not re.fullmatch(DNS_LABEL_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. order-service)"
        )
    return value


ServiceName = Annotated[
    str,
    AfterValidator(check_service_name),
    Field(json_schema_extra={"pattern": DNS_LABEL_PATTERN, "minLength": 1, "maxLength": 63}),
]


def _check_label_key(key: str) -> str:
    if not re.fullmatch(LABEL_KEY_PATTERN, key) or len(key) > 316:
        raise ValueError(f"{key!r} is not a valid label key (optional DNS prefix '/' name of <= 63 characters)")
    return key


def _check_label_value(value: str) -> str:
    if len(value) > 63 or not re.fullmatch(LABEL_VALUE_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a valid label value (<= 63 letters, digits, '-', '_', '.', "
            "starting and ending alphanumeric)"
        )
    return value


LabelKey = Annotated[
    str,
    AfterValidator(_check_label_key),
    Field(json_schema_extra={"maxLength": 316, "pattern": LABEL_KEY_PATTERN}),
]
LabelValue = Annotated[
    str,
    AfterValidator(_check_label_value),
    Field(json_schema_extra={"maxLength": 63, "pattern": LABEL_VALUE_PATTERN}),
]


# ----------------------------------------------------------------- selector

SELECTOR_OPERATOR_RULE = Cel(
    "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : "
    "(!has(self.values) || size(self.values) == 0)",
    "values must be non-empty for In and NotIn and empty for Exists and DoesNotExist",
)
SELECTOR_EMPTY_RULE = Cel(
    "(has(self.matchLabels) && size(self.matchLabels) > 0) || "
    "(has(self.matchExpressions) && size(self.matchExpressions) > 0)",
    "an empty selector would select every pod in the namespace; name at least one label, "
    "or leave selector out to use app.kubernetes.io/name=<serviceName>",
)


class LabelSelectorRequirement(_Model):
    """One matchExpressions entry, as in Kubernetes label selectors."""

    model_config = ConfigDict(json_schema_extra=cel(SELECTOR_OPERATOR_RULE))

    key: LabelKey = Field(description="The label key the selector applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the key relates to the values: In, NotIn, Exists or DoesNotExist."
    )
    values: list[LabelValue] = Field(
        default_factory=list,
        max_length=64,
        description="Values for In and NotIn; must be empty for Exists and DoesNotExist.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Self:
        needs_values = self.operator in ("In", "NotIn")
        if needs_values != bool(self.values):
            raise ValueError(SELECTOR_OPERATOR_RULE.message)
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


class LabelSelector(_Model):
    """Which pods of this namespace the MonitoredService instruments."""

    model_config = ConfigDict(json_schema_extra=cel(SELECTOR_EMPTY_RULE))

    match_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Labels a pod must carry, all of them, with these values.",
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list,
        max_length=16,
        description="Set-based requirements a pod's labels must all meet.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.match_labels and not self.match_expressions:
            raise ValueError(SELECTOR_EMPTY_RULE.message)
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            e.matches(labels) for e in self.match_expressions
        )

    def describe(self) -> str:
        """The selector as ``kubectl get -l`` writes it, e.g. ``app=orders,tier in (a,b)``."""
        parts = [f"{k}={v}" for k, v in self.match_labels.items()]
        for e in self.match_expressions:
            if e.operator == "Exists":
                parts.append(e.key)
            elif e.operator == "DoesNotExist":
                parts.append(f"!{e.key}")
            else:
                parts.append(f"{e.key} {e.operator.lower()} ({','.join(e.values)})")
        return ",".join(parts)


# ----------------------------------------------------------------- injection

KNOWN_SIDECARS = frozenset(
    {
        "istio-proxy",
        "istio-init",
        "istio-validation",
        "linkerd-proxy",
        "linkerd-init",
        "linkerd-network-validator",
        "envoy-sidecar",
        "consul-dataplane",
        "consul-connect-inject-init",
        "kuma-sidecar",
        "kuma-init",
        "vault-agent",
        "vault-agent-init",
        "daprd",
        "otc-container",
        "otel-collector",
        "jaeger-agent",
        "cloud-sql-proxy",
        "cloudsql-proxy",
        "aws-xray-daemon",
    }
)


class Injection(_Model):
    """How and where the plan reaches the pods."""

    mode: Literal["webhook", "patch"] = Field(
        default="webhook",
        description=(
            "webhook: pods are mutated at admission, workloads are never edited, so GitOps tools "
            "see no drift. patch: otelwire server-side-applies only its env vars, labels and "
            "annotations onto the pod templates of Deployments, StatefulSets and DaemonSets "
            "(field manager 'otelwire')."
        ),
    )
    containers: list[Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Containers to instrument, by name (init containers only when named here). Empty: "
            "every regular container except known sidecars (istio-proxy, linkerd-proxy, ...)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    override_existing: bool = Field(
        default=False,
        description=(
            "false: an env var the user already set wins and the conflict is reported in status. "
            "true: otelwire's value replaces it."
        ),
    )
    restart_outdated: bool = Field(
        default=False,
        description=(
            "Roll out workloads whose pods lack the current plan (webhook mode; rate-limited). "
            "false: outdated and missing pods are only reported."
        ),
    )

    @field_validator("containers")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("container names must be unique")
        return value


# ----------------------------------------------------------------- tracing

OTLP_PORT_RULE = Cel(
    "!has(self.endpoint) || !((self.protocol == 'grpc' && self.endpoint.matches(':4318(/|$)')) || "
    "(self.protocol != 'grpc' && self.endpoint.matches(':4317(/|$)')))",
    "OTLP port and protocol disagree: 4318 is OTLP/HTTP (http/protobuf, http/json), 4317 is OTLP/gRPC (grpc)",
    ".endpoint",
)
OTLP_LOOPBACK_RULE = Cel(
    f"self.allowLoopback || !has(self.endpoint) || !self.endpoint.matches(r'{endpoints.LOOPBACK_CEL_REGEX}')",
    "loopback endpoint: inside a pod localhost is the pod itself, not the collector; use the collector "
    "Service's DNS name, or set allowLoopback: true for a collector sidecar in the same pod",
    ".endpoint",
)


class Otlp(_Model):
    """Where and how OTLP is exported."""

    model_config = ConfigDict(json_schema_extra=cel(OTLP_PORT_RULE, OTLP_LOOPBACK_RULE))

    protocol: Literal["http/protobuf", "grpc", "http/json"] = Field(
        default="http/protobuf",
        description="OTLP transport: http/protobuf (port 4318), grpc (port 4317) or http/json (port 4318).",
    )
    allow_loopback: bool = Field(
        default=False,
        description="Allow localhost/127.0.0.1/::1 endpoints; only right for a collector sidecar in the same pod.",
    )
    endpoint: str | None = Field(
        default=None,
        max_length=512,
        pattern=None,
        description=(
            "OTLP collector endpoint, host:port or http(s)://host:port[/path] (a base URL: SDKs "
            "append /v1/traces). Default: http://otel-collector.observability.svc:4318, or :4317 "
            "for grpc. Loopback hosts are rejected unless allowLoopback is true."
        ),
        json_schema_extra={"pattern": endpoints.OTLP_ENDPOINT_PATTERN},
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        protocol = info.data.get("protocol", "http/protobuf")
        try:
            endpoints.parse_otlp(value, protocol, bool(info.data.get("allow_loopback", False)))
        except endpoints.LoopbackHost:
            raise ValueError(OTLP_LOOPBACK_RULE.message) from None
        except endpoints.PortMismatch:
            raise ValueError(OTLP_PORT_RULE.message) from None
        return value

    @property
    def resolved_endpoint(self) -> str:
        """The normalised endpoint an SDK reads from OTEL_EXPORTER_OTLP_ENDPOINT."""
        if self.endpoint is None:
            port = endpoints.OTLP_GRPC_PORT if self.protocol == "grpc" else endpoints.OTLP_HTTP_PORT
            return f"http://{DEFAULT_OTLP_HOST}:{port}"
        return endpoints.parse_otlp(self.endpoint, self.protocol, self.allow_loopback).url


JAEGER_AGENT_PORT_RULE = Cel(
    "!(self.port in [14268, 14250, 4317, 4318, 16686])",
    "that port belongs to a Jaeger collector or OTLP receiver, not the agent: the agent listens on UDP "
    "6831 (compact) or 6832 (binary); to send over HTTP set tracing.jaeger.collectorEndpoint instead",
    ".port",
)


class JaegerAgent(_Model):
    """A Jaeger agent: a host and a UDP port, no scheme."""

    model_config = ConfigDict(json_schema_extra=cel(JAEGER_AGENT_PORT_RULE))

    host: str = Field(
        max_length=253,
        description="Agent host name or IP, without scheme or port (e.g. jaeger-agent.observability.svc).",
        json_schema_extra={"pattern": endpoints.HOSTNAME_PATTERN},
    )
    port: int = Field(
        default=6831,
        ge=1,
        le=65535,
        description="Agent UDP port: 6831 (compact thrift, the usual) or 6832 (binary thrift).",
    )

    @field_validator("host", mode="before")
    @classmethod
    def _plain_host(cls, value: Any) -> Any:
        if isinstance(value, str):
            endpoints.check_jaeger_agent_host(value, allow_loopback=True)
        return value

    @field_validator("port")
    @classmethod
    def _agent_port(cls, value: int) -> int:
        try:
            return endpoints.check_jaeger_agent_port(value)
        except endpoints.PortMismatch:
            raise ValueError(JAEGER_AGENT_PORT_RULE.message) from None


JAEGER_COLLECTOR_PORT_RULE = Cel(
    "!has(self.collectorEndpoint) || !self.collectorEndpoint.matches(':(5775|6831|6832)(/|$)')",
    "that is the Jaeger agent's UDP port; the collector takes HTTP on 14268 (/api/traces); set "
    "tracing.jaeger.agent for the agent instead",
    ".collectorEndpoint",
)
JAEGER_LOOPBACK_RULE = Cel(
    "self.allowLoopback || ((!has(self.collectorEndpoint) || !self.collectorEndpoint.matches("
    f"r'{endpoints.LOOPBACK_CEL_REGEX}')) && (!has(self.agent) || !self.agent.host.matches("
    f"r'{endpoints.LOOPBACK_CEL_REGEX}')))",
    "loopback Jaeger host: inside a pod localhost is the pod itself; use the agent's or collector's "
    "Service name, or set allowLoopback: true for an agent sidecar",
)


class Jaeger(_Model):
    """Legacy Jaeger export, for SDKs that cannot speak OTLP.

    The Jaeger exporter was removed from the OpenTelemetry Go SDK and Jaeger
    ingests OTLP natively on 4317/4318: prefer ``exporter: otlp``.
    """

    model_config = ConfigDict(json_schema_extra=cel(JAEGER_COLLECTOR_PORT_RULE, JAEGER_LOOPBACK_RULE))

    allow_loopback: bool = Field(
        default=False,
        description="Allow a loopback agent or collector host; only right for an agent sidecar in the same pod.",
    )
    agent: JaegerAgent | None = Field(
        default=None,
        description="The Jaeger agent (UDP). Example: {host: jaeger-agent.observability.svc, port: 6831}.",
    )
    collector_endpoint: str | None = Field(
        default=None,
        max_length=512,
        description=(
            "The Jaeger collector's HTTP endpoint, e.g. http://jaeger-collector.observability.svc:14268/api/traces."
        ),
        json_schema_extra={"pattern": endpoints.URL_PATTERN},
    )

    @field_validator("agent")
    @classmethod
    def _agent_loopback(cls, value: JaegerAgent | None, info: Any) -> JaegerAgent | None:
        if value is not None:
            try:
                endpoints.check_jaeger_agent_host(value.host, bool(info.data.get("allow_loopback", False)))
            except endpoints.LoopbackHost:
                raise ValueError(JAEGER_LOOPBACK_RULE.message) from None
        return value

    @field_validator("collector_endpoint")
    @classmethod
    def _collector(cls, value: str | None, info: Any) -> str | None:
        if value is not None:
            try:
                endpoints.check_jaeger_collector(value, bool(info.data.get("allow_loopback", False)))
            except endpoints.LoopbackHost:
                raise ValueError(JAEGER_LOOPBACK_RULE.message) from None
            except endpoints.PortMismatch:
                raise ValueError(JAEGER_COLLECTOR_PORT_RULE.message) from None
        return value

    @property
    def resolved_collector(self) -> str | None:
        if self.collector_endpoint is None:
            return None
        return endpoints.check_jaeger_collector(self.collector_endpoint, allow_loopback=True)


SAMPLER_RATIO_RULE = Cel(
    "(self.type in ['traceidratio', 'parentbased_traceidratio']) == has(self.ratio)",
    "ratio is required for traceidratio and parentbased_traceidratio samplers, and only for them",
    ".ratio",
)
SAMPLER_ARGUMENT_RULE = Cel(
    "!has(self.argument) || self.type in ['jaeger_remote', 'parentbased_jaeger_remote', 'xray']",
    "argument applies to jaeger_remote, parentbased_jaeger_remote and xray samplers only; ratio samplers take ratio",
    ".argument",
)


class Sampler(_Model):
    """Which traces are recorded (OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG)."""

    model_config = ConfigDict(json_schema_extra=cel(SAMPLER_RATIO_RULE, SAMPLER_ARGUMENT_RULE))

    type: SamplerType = Field(
        default="parentbased_always_on",
        description=(
            "Sampler from the OpenTelemetry spec. parentbased_* follow the caller's decision, so a "
            "trace is kept or dropped as a whole."
        ),
    )
    ratio: str | None = Field(
        default=None,
        max_length=11,
        description='Fraction of traces to keep, a quoted decimal in [0, 1] such as "0.25"; ratio samplers only.',
        json_schema_extra={"pattern": RATIO_PATTERN},
    )
    argument: str | None = Field(
        default=None,
        max_length=512,
        description="OTEL_TRACES_SAMPLER_ARG for jaeger_remote, parentbased_jaeger_remote and xray samplers.",
    )

    @field_validator("ratio", mode="before")
    @classmethod
    def _ratio(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(
                f'ratio must be a quoted decimal string such as "0.25", not the {type(value).__name__} {value!r}'
            )
        if not re.fullmatch(RATIO_PATTERN, value):
            raise ValueError(f'{value!r} is not a decimal in [0, 1]; write it like "0.25"')
        return value

    @model_validator(mode="after")
    def _cross(self) -> Self:
        if (self.type in RATIO_SAMPLERS) != (self.ratio is not None):
            raise ValueError(SAMPLER_RATIO_RULE.message)
        if self.argument is not None and self.type not in ARGUMENT_SAMPLERS:
            raise ValueError(SAMPLER_ARGUMENT_RULE.message)
        return self

    @property
    def env_argument(self) -> str | None:
        return self.ratio if self.ratio is not None else self.argument


PROPAGATORS_NONE_RULE = Cel(
    "!('none' in self) || size(self) == 1",
    "'none' turns propagation off and cannot be combined with other propagators",
)
PROPAGATORS_UNIQUE_RULE = Cel("self.all(x, self.exists_one(y, y == x))", "propagators must not repeat")
TRACING_JAEGER_ONLY_RULE = Cel(
    "!has(self.jaeger) || self.exporter == 'jaeger'",
    "tracing.jaeger is only used with exporter: jaeger; remove it or set exporter: jaeger",
    ".jaeger",
)
TRACING_JAEGER_NEEDS_TARGET_RULE = Cel(
    "self.exporter != 'jaeger' || (has(self.jaeger) && (has(self.jaeger.agent) || has(self.jaeger.collectorEndpoint)))",
    "exporter: jaeger needs tracing.jaeger.agent or tracing.jaeger.collectorEndpoint (prefer exporter: "
    "otlp; Jaeger ingests OTLP on 4317/4318)",
    ".exporter",
)


def _default_propagators() -> list[Propagator]:
    return ["tracecontext", "baggage"]


class Tracing(_Model):
    """Trace export, propagation and sampling."""

    model_config = ConfigDict(json_schema_extra=cel(TRACING_JAEGER_ONLY_RULE, TRACING_JAEGER_NEEDS_TARGET_RULE))

    exporter: Literal["otlp", "jaeger", "none"] = Field(
        default="otlp",
        description=(
            "otlp (recommended; Jaeger ingests OTLP too), jaeger (legacy SDKs only: the Go SDK "
            "removed its Jaeger exporter) or none."
        ),
    )
    otlp: Otlp = Field(default_factory=Otlp, description="OTLP endpoint and protocol.")
    jaeger: Jaeger | None = Field(default=None, description="Jaeger agent or collector; only with exporter: jaeger.")
    propagators: list[Propagator] = Field(
        default_factory=_default_propagators,
        min_length=1,
        max_length=8,
        description=(
            "OTEL_PROPAGATORS. Go services honour it only with "
            "go.opentelemetry.io/contrib/propagators/autoprop (or otel.SetTextMapPropagator in code)."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "atomic",
            **cel(PROPAGATORS_NONE_RULE, PROPAGATORS_UNIQUE_RULE),
        },
    )
    sampler: Sampler = Field(default_factory=Sampler, description="The trace sampler.")

    @field_validator("propagators")
    @classmethod
    def _propagators(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(PROPAGATORS_UNIQUE_RULE.message)
        if "none" in value and len(value) > 1:
            raise ValueError(PROPAGATORS_NONE_RULE.message)
        return value

    @model_validator(mode="after")
    def _jaeger(self) -> Self:
        if self.jaeger is not None and self.exporter != "jaeger":
            raise ValueError(TRACING_JAEGER_ONLY_RULE.message)
        if self.exporter == "jaeger" and (
            self.jaeger is None or (self.jaeger.agent is None and self.jaeger.collector_endpoint is None)
        ):
            raise ValueError(TRACING_JAEGER_NEEDS_TARGET_RULE.message)
        return self


# ----------------------------------------------------------------- metrics, istio, clock


class Prometheus(_Model):
    """Where the SDK's Prometheus exporter listens (exporter: prometheus)."""

    port: int = Field(default=9464, ge=1, le=65535, description="Port of the SDK's Prometheus endpoint.")
    path: str = Field(
        default="/metrics",
        max_length=256,
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="HTTP path scraped by Prometheus.",
    )


class Metrics(_Model):
    """Exactly one metrics path per service, so nothing is counted twice."""

    exporter: Literal["otlp", "prometheus", "none"] = Field(
        default="prometheus",
        description=(
            "OTEL_METRICS_EXPORTER: otlp (push to the collector), prometheus (scraped; the job is "
            "named after the service) or none. Exactly one path, never both."
        ),
    )
    prometheus: Prometheus = Field(default_factory=Prometheus, description="Scrape port and path for prometheus.")


class Istio(_Model):
    """Make the mesh's own spans and metrics carry the service name."""

    mode: Literal["auto", "enabled", "disabled"] = Field(
        default="auto",
        description=(
            "auto: label service.istio.io/canonical-name when the pod has an Istio sidecar; "
            "enabled: always; disabled: never."
        ),
    )


CLOCK_SKEW_RULE = Cel(
    "!self.maxSkew.matches('^0+(ms|s)$')",
    "maxSkew must be greater than zero, e.g. 100ms",
    ".maxSkew",
)


def parse_duration_ms(value: str) -> int:
    """``"100ms"`` -> 100, ``"2s"`` -> 2000."""
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(f"{value!r} is not a duration like 100ms or 1s")
    return int(value[:-2]) if value.endswith("ms") else int(value[:-1]) * 1000


class Clock(_Model):
    """Node clock agreement; traces and metrics misalign when clocks drift."""

    model_config = ConfigDict(json_schema_extra=cel(CLOCK_SKEW_RULE))

    sync: Literal["chrony", "none"] = Field(
        default="none",
        description=(
            "chrony: the operator runs one cluster-wide chrony DaemonSet (CAP_SYS_TIME only). "
            "Disable the host's own time daemon (systemd-timesyncd, ntpd) on those nodes first, "
            "or the two fight."
        ),
    )
    max_skew: str = Field(
        default="100ms",
        max_length=9,
        description="Largest tolerated node clock offset, e.g. 100ms or 1s; ClockSynced reports against it.",
        json_schema_extra={"pattern": DURATION_PATTERN},
    )
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        max_length=16,
        description="Nodes the chrony DaemonSet runs on (all nodes when empty).",
    )

    @field_validator("max_skew")
    @classmethod
    def _skew(cls, value: str) -> str:
        if parse_duration_ms(value) <= 0:
            raise ValueError(CLOCK_SKEW_RULE.message)
        return value

    @property
    def max_skew_ms(self) -> int:
        return parse_duration_ms(self.max_skew)


# ----------------------------------------------------------------- the spec


def _check_attribute_key(key: str) -> str:
    if key == "service.name":
        raise ValueError("service.name is set from spec.serviceName; remove it from resourceAttributes")
    if not re.fullmatch(ATTRIBUTE_KEY_PATTERN, key):
        raise ValueError(
            f"{key!r} is not a resource attribute key: use letters, digits, '.', '_', '/' and '-' "
            "(no '=', ',' or spaces), e.g. deployment.environment"
        )
    return key


AttributeKey = Annotated[
    str,
    AfterValidator(_check_attribute_key),
    Field(json_schema_extra={"pattern": ATTRIBUTE_KEY_PATTERN, "maxLength": 255}),
]
Alias = Annotated[str, Field(min_length=1, max_length=253, pattern=ALIAS_PATTERN)]

ALIASES_RULE = Cel(
    "!has(self.serviceName) || !has(self.aliases) || !(self.serviceName in self.aliases)",
    "aliases must not include serviceName itself; list only the other names this service is known by",
    ".aliases",
)
RESOURCE_ATTRIBUTES_RULE = Cel(
    "!has(self.resourceAttributes) || !('service.name' in self.resourceAttributes)",
    "service.name is set from spec.serviceName; remove it from resourceAttributes",
    ".resourceAttributes",
)


class MonitoredServiceSpec(_Model):
    """What a MonitoredService asks for: one service, wired end to end."""

    model_config = ConfigDict(json_schema_extra=cel(ALIASES_RULE, RESOURCE_ATTRIBUTES_RULE))

    service_name: ServiceName | None = Field(
        default=None,
        description=(
            "The service name every system agrees on (OTEL_SERVICE_NAME, Istio canonical name, "
            "Prometheus job). A literal DNS-1123 label; never empty, never $(VAR). Default: metadata.name."
        ),
    )
    selector: LabelSelector | None = Field(
        default=None,
        description=(
            "Pods of this namespace to instrument (never other namespaces). Default: "
            "matchLabels app.kubernetes.io/name: <serviceName>."
        ),
    )
    injection: Injection = Field(default_factory=Injection, description="How the configuration reaches pods.")
    tracing: Tracing = Field(default_factory=Tracing, description="Trace export, propagation and sampling.")
    resource_attributes: dict[AttributeKey, Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=dict,
        max_length=64,
        description=(
            "Extra OTEL_RESOURCE_ATTRIBUTES, e.g. deployment.environment: prod. Values are "
            "percent-encoded for you. service.name is not allowed here (use serviceName)."
        ),
    )
    metrics: Metrics = Field(default_factory=Metrics, description="The one metrics path of this service.")
    istio: Istio = Field(default_factory=Istio, description="Istio naming.")
    clock: Clock = Field(default_factory=Clock, description="Node clock synchronisation.")
    aliases: list[Alias] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Other names this service appears under (e.g. order_service, OrderService); generated "
            "collector rules rename them to serviceName."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    dashboard: bool = Field(
        default=False, description="Generate a Grafana dashboard ConfigMap (label grafana_dashboard: '1')."
    )

    @field_validator("aliases")
    @classmethod
    def _aliases_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("aliases must not repeat")
        return value

    @model_validator(mode="after")
    def _aliases(self) -> Self:
        if self.service_name is not None and self.service_name in self.aliases:
            raise ValueError(ALIASES_RULE.message)
        return self


# ----------------------------------------------------------------- the resource

DEFAULT_NAME_RULE = Cel(
    "(has(self.spec) && has(self.spec.serviceName)) || (size(self.metadata.name) <= 63 && "
    f"self.metadata.name.matches('{DNS_LABEL_PATTERN}'))",
    "metadata.name is not a DNS-1123 label, so it cannot be the default service name; set spec.serviceName",
)


@dataclass(frozen=True)
class MonitoredService:
    """A validated MonitoredService: identity plus spec, plain data for the planner."""

    name: str
    namespace: str
    spec: MonitoredServiceSpec
    generation: int = 0
    uid: str = ""

    @property
    def service_name(self) -> str:
        return self.spec.service_name or self.name

    @functools.cached_property
    def selector(self) -> LabelSelector:
        return self.spec.selector or LabelSelector(match_labels={DEFAULT_NAME_LABEL: self.service_name})

    @functools.cached_property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _at_rule_field(problem: SpecProblem) -> SpecProblem:
    """Report a cross-field rule where the API server does: at the object's path plus the rule's fieldPath."""
    suffix = next((r.field_path for r in ALL_CEL_RULES if r.message == problem.message and r.field_path), "")
    if not suffix or re.sub(r"(\[[^\]]*\])+$", "", problem.path).endswith(suffix):
        return problem
    return SpecProblem(problem.path + suffix, problem.message)


def _plain(value: Any) -> Any:
    """Any mapping (a kopf body view, a MappingProxy) as plain dicts: strict validation takes dicts only."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def parse_spec(raw: Mapping[str, Any] | None) -> MonitoredServiceSpec:
    """Validate a raw ``spec`` mapping; raise :class:`InvalidSpec` with field paths."""
    try:
        return MonitoredServiceSpec.model_validate(_plain(raw or {}))
    except ValidationError as error:
        problems = problems_from(error, "spec", MonitoredServiceSpec)
        raise InvalidSpec([_at_rule_field(p) for p in problems]) from None


def parse_monitored_service(obj: Mapping[str, Any], default_namespace: str = "default") -> MonitoredService:
    """Validate a whole MonitoredService object as read from YAML or the API."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or default_namespace)
    resource = f"{KIND} {namespace}/{name or '<unnamed>'}"
    problems: list[SpecProblem] = []
    if obj.get("apiVersion") not in (None, f"{API_GROUP}/{API_VERSION}"):
        problems.append(SpecProblem("apiVersion", f"must be {API_GROUP}/{API_VERSION}"))
    if not name:
        problems.append(SpecProblem("metadata.name", "required; name the MonitoredService"))
    raw_spec = obj.get("spec")
    if raw_spec is not None and not isinstance(raw_spec, Mapping):
        raise InvalidSpec([*problems, SpecProblem("spec", "must be a mapping")], resource)
    spec: MonitoredServiceSpec | None = None
    try:
        spec = parse_spec(raw_spec)
    except InvalidSpec as error:
        problems.extend(error.problems)
    # Judged even when the spec has other problems: the API server reports them all at once.
    given = spec.service_name if spec is not None else (raw_spec or {}).get("serviceName")
    if given is None and name:
        try:
            check_service_name(name)
        except ValueError:
            problems.append(SpecProblem("spec.serviceName", DEFAULT_NAME_RULE.message))
    if problems or spec is None:
        raise InvalidSpec(problems, resource)
    generation = meta.get("generation")
    return MonitoredService(
        name=name,
        namespace=namespace,
        spec=spec,
        generation=int(generation) if isinstance(generation, int) else 0,
        uid=str(meta.get("uid") or ""),
    )


ALL_CEL_RULES: tuple[Cel, ...] = (
    SELECTOR_OPERATOR_RULE,
    SELECTOR_EMPTY_RULE,
    OTLP_PORT_RULE,
    OTLP_LOOPBACK_RULE,
    JAEGER_AGENT_PORT_RULE,
    JAEGER_COLLECTOR_PORT_RULE,
    JAEGER_LOOPBACK_RULE,
    SAMPLER_RATIO_RULE,
    SAMPLER_ARGUMENT_RULE,
    TRACING_JAEGER_ONLY_RULE,
    TRACING_JAEGER_NEEDS_TARGET_RULE,
    CLOCK_SKEW_RULE,
    ALIASES_RULE,
    RESOURCE_ATTRIBUTES_RULE,
    PROPAGATORS_NONE_RULE,
    PROPAGATORS_UNIQUE_RULE,
    DEFAULT_NAME_RULE,
)
