"""Self-contained kubeconfig files (everything inline) for the plane's admin and its components."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from plane.pki import CertPair


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_kubeconfig(path: Path, server: str, ca_pem: bytes, user: Mapping[str, Any], name: str = "otelwire") -> Path:
    """A self-contained kubeconfig (everything inline) with one cluster, user and context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": name, "user": dict(user)}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def client_user(pair: CertPair) -> dict[str, str]:
    """The kubeconfig user entry that authenticates with ``pair`` (client certificate and key, inline)."""
    return {"client-certificate-data": _b64(pair.cert_pem()), "client-key-data": _b64(pair.key_pem())}
