"""The admission benchmark's data: 1,000 MonitoredServices and a realistic mix of pod AdmissionReviews.

Everything is generated from a fixed seed, so every process (server, floor,
load generator, smoke test) builds the same objects without sharing files.

* 100 namespaces ``team-000`` .. ``team-099``, ten MonitoredServices each
  (``svc-0`` .. ``svc-9``), parsed with the operator's own
  ``parse_monitored_service`` -- the objects kopf's ``msvc_index`` holds.  A few
  vary what the planner does: a Prometheus metrics path, resource attributes,
  an explicit container list, ``overrideExisting``, a ``matchExpressions``
  selector, Istio forced on.
* Pods as the API server sends them for a Deployment's ReplicaSet: generateName,
  ``pod-template-hash``, a controller ownerReference, a projected service-account
  volume, tolerations, the defaulted fields -- about 3 KB of JSON each.  The mix:
  see ``MIX``.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otelwire.spec.model import MonitoredService, parse_monitored_service

NAMESPACES = 100
PER_NAMESPACE = 10
SEED = 20240601
COLLECTOR = "http://otel-collector.observability.svc:4318"

# (kind, weight): what share of the requests each pod shape has.
MIX: tuple[tuple[str, int], ...] = (
    ("match-1c-noenv", 30),  # matching, Deployment-owned, one container, no env
    ("match-1c-env", 20),  # matching, one container with the user's own env
    ("match-2c", 10),  # matching, two containers, one with env
    ("match-istio", 5),  # matching, with an istio-proxy sidecar already injected
    ("match-statefulset", 5),  # matching, owned by a StatefulSet
    ("match-user-otel", 5),  # matching, the user already set OTEL_SERVICE_NAME (kept, reported)
    ("nomatch", 20),  # namespace has services, none selects the pod
    ("unindexed-ns", 5),  # namespace without any MonitoredService
)
MATCHING = frozenset(kind for kind, _ in MIX if kind.startswith("match"))
USER_ENV: list[dict[str, Any]] = [
    {"name": "LOG_LEVEL", "value": "info"},
    {"name": "HTTP_PORT", "value": "8080"},
    {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
]


def service_body(namespace: str, index: int) -> dict[str, Any]:
    name = f"svc-{index}"
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "tracing": {
            "otlp": {"endpoint": COLLECTOR},
            "sampler": {"type": "parentbased_traceidratio", "ratio": "0.25"},
        },
        "resourceAttributes": {"deployment.environment": "prod", "team": namespace},
    }
    variant = index % 5
    if variant == 1:
        spec["metrics"] = {"exporter": "prometheus"}
    elif variant == 2:
        spec["selector"] = {
            "matchLabels": {"app": name},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}],
        }
    elif variant == 3:
        spec["istio"] = {"mode": "enabled"}
    elif variant == 4:
        spec["injection"] = {"overrideExisting": index % 2 == 0}
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"otelwire-bench/{namespace}/{name}")),
            "generation": 1 + index % 3,
        },
        "spec": spec,
    }


def namespace_name(i: int) -> str:
    return f"team-{i:03d}"


def build_index() -> dict[str, list[MonitoredService]]:
    """namespace -> its parsed MonitoredServices: the shape ``kopf.Index.get(namespace)`` yields."""
    index: dict[str, list[MonitoredService]] = {}
    for n in range(NAMESPACES):
        namespace = namespace_name(n)
        index[namespace] = [
            parse_monitored_service(service_body(namespace, i), namespace) for i in range(PER_NAMESPACE)
        ]
    return index


def _container(name: str, image: str, env: list[dict[str, Any]] | None, volume: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "volumeMounts": [
            {"name": volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    if env is not None:
        container["env"] = env
    return container


def _template_hash(namespace: str, app: str) -> str:
    rng = random.Random(f"{namespace}/{app}")
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(10))


def pod(kind: str, namespace: str, app: str, rng: random.Random) -> dict[str, Any]:
    """One pod as the API server puts it into an AdmissionReview (before any mutation)."""
    template_hash = _template_hash(namespace, app)
    volume = "kube-api-access-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))
    labels = {"app": app, "app.kubernetes.io/version": "1.4.2", "pod-template-hash": template_hash}
    annotations: dict[str, str] = {"kubectl.kubernetes.io/restartedAt": "2024-05-30T10:00:00Z"}
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": f"{app}-{template_hash}",
        "uid": str(uuid.UUID(int=rng.getrandbits(128))),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    image = f"registry.example.com/{namespace}/{app}:1.4.2"
    containers = [_container("app", image, None, volume)]
    generate_name = f"{app}-{template_hash}-"
    if kind in ("match-1c-env", "match-istio"):
        containers[0]["env"] = [dict(e) for e in USER_ENV]
    elif kind == "match-2c":
        containers[0]["env"] = [dict(e) for e in USER_ENV]
        containers.append(_container("worker", image, None, volume))
        containers[1]["args"] = ["worker", "--queue=orders"]
    elif kind == "match-user-otel":
        containers[0]["env"] = [{"name": "OTEL_SERVICE_NAME", "value": "legacy-name"}, *USER_ENV[:1]]
    if kind == "match-istio":
        containers.append(_container("istio-proxy", "docker.io/istio/proxyv2:1.22.0", None, volume))
        annotations["sidecar.istio.io/status"] = '{"initContainers":["istio-init"],"containers":["istio-proxy"]}'
    if kind == "match-statefulset":
        labels.pop("pod-template-hash")
        labels["statefulset.kubernetes.io/pod-name"] = f"{app}-0"
        owner.update(kind="StatefulSet", name=app)
        generate_name = f"{app}-"
    if kind == "nomatch":
        labels["app"] = f"{app}-other"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": generate_name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": {
            "volumes": [
                {
                    "name": volume,
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                        }
                                    ]
                                }
                            },
                        ],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": containers,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {},
    }


def review(pod_object: Mapping[str, Any], uid: str) -> dict[str, Any]:
    """The AdmissionReview the API server sends for a pod CREATE by the ReplicaSet controller."""
    return {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": pod_object["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {
                "username": "system:serviceaccount:kube-system:replicaset-controller",
                "uid": "5f0b2a4e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
            },
            "object": pod_object,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }


@dataclass(frozen=True)
class Request:
    kind: str
    uid: str
    body: bytes


def requests(count: int, seed: int = SEED) -> list[Request]:
    """``count`` distinct AdmissionReviews (unique uids), drawn from ``MIX``."""
    rng = random.Random(seed)
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    out: list[Request] = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "unindexed-ns":
            namespace = f"other-{rng.randrange(20):02d}"
        else:
            namespace = namespace_name(rng.randrange(NAMESPACES))
        app = f"svc-{rng.randrange(PER_NAMESPACE)}"
        uid = str(uuid.UUID(int=rng.getrandbits(128)))
        body = json.dumps(review(pod(kind, namespace, app, rng), uid), separators=(",", ":")).encode()
        out.append(Request(kind, uid, body))
    return out


def one_container_pod() -> dict[str, Any]:
    """The pod the patch shape is reported for: Deployment-owned, one container with the user's env."""
    rng = random.Random(SEED)
    return pod("match-1c-env", namespace_name(0), "svc-0", rng)
