"""The MutatingWebhookConfiguration: one definition for manifests and local runs.

``configuration()`` is pure and used twice: ``manifests/`` hold its
Service-based form (cert-manager injects the CA), and ``otelwire run`` outside
a cluster applies its URL-based form pointing at 127.0.0.1, then deletes it
on exit -- only that object, which carries a label saying who made it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

WEBHOOK_NAME = "pods.otelwire.io"
LOCAL_LABEL = "otelwire.io/registered-by"
LOCAL_LABEL_VALUE = "otelwire-run"
TIMEOUT_SECONDS = 5


def configuration(
    name: str,
    *,
    ca_bundle: bytes,
    url: str | None = None,
    service: tuple[str, str, int, str] | None = None,
    excluded_namespaces: Sequence[str] = ("kube-system",),
    local: bool = False,
) -> dict[str, Any]:
    """The MutatingWebhookConfiguration for pods: never blocking, never in excluded namespaces."""
    client: dict[str, Any] = {"caBundle": base64.b64encode(ca_bundle).decode()}
    if url is not None:
        client["url"] = url
    elif service is not None:
        namespace, svc, port, path = service
        client["service"] = {"namespace": namespace, "name": svc, "port": port, "path": path}
    else:
        raise ValueError("either url or service is required")
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "otelwire"}}
    if local:
        metadata["labels"][LOCAL_LABEL] = LOCAL_LABEL_VALUE
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "admissionReviewVersions": ["v1"],
                "clientConfig": client,
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                        "operations": ["CREATE"],
                        "scope": "Namespaced",
                    }
                ],
                "failurePolicy": "Ignore",
                "matchPolicy": "Equivalent",
                "sideEffects": "None",
                "timeoutSeconds": TIMEOUT_SECONDS,
                "reinvocationPolicy": "IfNeeded",
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "NotIn",
                            "values": sorted(set(excluded_namespaces)),
                        }
                    ]
                },
            }
        ],
    }
