"""otelwire's webhook certificate, issued by real cert-manager and injected by its cainjector.

The install as shipped: manifests/certificates (a self-signed Issuer and the
Certificate ``otelwire-webhook`` for the Service ``otelwire-webhook``) applied
with kustomize, and manifests/operator/webhook.yaml, whose
``cert-manager.io/inject-ca-from`` annotation asks cainjector for the
``caBundle``. cert-manager v1.21.2 runs as the ``cert_manager`` fixture
(partners/cert_manager.py) on the session's plane.

Proven: the Issuer and the Certificate become Ready; the Secret holds a key and
a certificate for the Service's DNS names that verifies against its ``ca.crt``;
cainjector writes that ``ca.crt`` into the webhook configuration; and when the
certificate is issued again, its new CA joins the old one in the ``caBundle``
(cainjector keeps a CA there until it expires), so the API server trusts both
while the serving certificate changes.

Nothing calls the webhook: no pod is created while its configuration exists,
and it fails open (``failurePolicy: Ignore``) as shipped.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from plane import Plane

from partners import ROOT

if TYPE_CHECKING:  # imported by pytest as a plugin (tests/conftest.py), so that pytest can rewrite its asserts
    from partners.cert_manager import CertManager

NAMESPACE: Final = "otelwire-system"
ISSUER: Final = "otelwire-selfsigned"
CERTIFICATE: Final = "otelwire-webhook"
SECRET: Final = "otelwire-webhook-tls"
WEBHOOK: Final = "otelwire"
CERTIFICATES: Final = str(ROOT / "manifests" / "certificates")
WEBHOOK_FILE: Final = str(ROOT / "manifests" / "operator" / "webhook.yaml")
SERVICE_NAMES: Final = {"otelwire-webhook.otelwire-system.svc", "otelwire-webhook.otelwire-system.svc.cluster.local"}


@dataclass(frozen=True)
class Issued:
    """The Secret cert-manager wrote, parsed."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate


def read_secret(plane: Plane) -> Issued:
    secret = plane.kubectl_json("get", "secret", SECRET, "-n", NAMESPACE)
    assert secret["type"] == "kubernetes.io/tls"
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert {"tls.crt", "tls.key", "ca.crt"} <= set(data), sorted(data)
    key = serialization.load_pem_private_key(data["tls.key"], password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), type(key)  # privateKey.algorithm: ECDSA
    return Issued(x509.load_pem_x509_certificate(data["tls.crt"]), key, x509.load_pem_x509_certificate(data["ca.crt"]))


def ca_bundle(plane: Plane) -> list[x509.Certificate]:
    """The certificates in the caBundle of the shipped webhook configuration's only webhook (none until injected)."""
    config = plane.kubectl_json("get", "mutatingwebhookconfiguration", WEBHOOK)
    (webhook,) = config["webhooks"]
    bundle = base64.b64decode(webhook["clientConfig"].get("caBundle", ""))
    return x509.load_pem_x509_certificates(bundle) if bundle else []


@pytest.fixture(scope="module")
def installed(plane: Plane, cert_manager: CertManager) -> Iterator[CertManager]:
    """The shipped certificates and webhook configuration applied; all of it removed afterwards."""
    existed = plane.kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0
    plane.create_namespace(NAMESPACE)
    try:
        plane.kubectl("apply", "-k", CERTIFICATES)
        plane.kubectl("apply", "-f", WEBHOOK_FILE)
        yield cert_manager
    finally:
        plane.kubectl("delete", "-f", WEBHOOK_FILE, "--ignore-not-found")
        if existed:  # someone else's namespace: take back only what this module made
            plane.kubectl("delete", "-k", CERTIFICATES, "--ignore-not-found")
            plane.kubectl("delete", "secret", SECRET, "-n", NAMESPACE, "--ignore-not-found")
            plane.kubectl("delete", "certificaterequests", "--all", "-n", NAMESPACE)
        else:
            plane.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s")


def issued(installed: CertManager) -> Issued:
    installed.wait_ready("certificate", CERTIFICATE, NAMESPACE)
    return read_secret(installed.plane)


def test_issuer_and_certificate_become_ready(installed: CertManager) -> None:
    issuer = installed.wait_ready("issuer", ISSUER, NAMESPACE)
    certificate = installed.wait_ready("certificate", CERTIFICATE, NAMESPACE)

    (ready,) = (c for c in issuer["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "IsReady", ready
    status = certificate["status"]
    assert status["revision"] >= 1, status
    assert status["notAfter"] > status["notBefore"], status


def test_secret_holds_a_certificate_for_the_webhook_service(installed: CertManager) -> None:
    got = issued(installed)

    sans = got.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == SERVICE_NAMES
    assert sans.get_values_for_type(x509.IPAddress) == []
    # The key in tls.key is the certificate's, P-256 as the Certificate asks.
    assert got.key.curve.name == "secp256r1"
    assert got.cert.public_key() == got.key.public_key()
    # It verifies against ca.crt: a self-signed Issuer makes ca.crt the certificate itself.
    assert got.ca == got.cert
    got.cert.verify_directly_issued_by(got.ca)
    now = datetime.datetime.now(datetime.UTC)
    assert got.cert.not_valid_before_utc <= now < got.cert.not_valid_after_utc


def test_cainjector_writes_the_ca_into_the_webhook(installed: CertManager) -> None:
    got = issued(installed)

    installed.wait_for(
        f"cainjector to put ca.crt into mutatingwebhookconfiguration/{WEBHOOK}'s caBundle",
        lambda: ca_bundle(installed.plane)[-1:] == [got.ca],
        context=lambda: installed.plane.kubectl("get", "mutatingwebhookconfiguration", WEBHOOK, "-o", "yaml").stdout,
    )
    config = installed.plane.kubectl_json("get", "mutatingwebhookconfiguration", WEBHOOK)
    assert config["webhooks"][0]["clientConfig"]["service"]["name"] == "otelwire-webhook"  # still the shipped one


def test_a_certificate_issued_again_joins_the_old_ca_in_the_bundle(installed: CertManager) -> None:
    """cainjector appends a new CA and keeps the old ones until they expire (its CAInjectorMerging, GA).

    So the API server trusts both while the operator's pods move to the new certificate.
    """
    before = issued(installed)
    installed.wait_for("the current CA in the caBundle", lambda: ca_bundle(installed.plane)[-1:] == [before.ca])
    bundle_before = ca_bundle(installed.plane)

    installed.plane.kubectl("delete", "secret", SECRET, "-n", NAMESPACE)

    def reissued() -> bool:
        got = installed.plane.kubectl("get", "secret", SECRET, "-n", NAMESPACE, check=False)
        return got.returncode == 0 and read_secret(installed.plane).cert != before.cert

    installed.wait_for(f"secret {NAMESPACE}/{SECRET} issued again", reissued)
    after = issued(installed)
    assert after.cert.serial_number != before.cert.serial_number
    assert after.ca != before.ca
    after.cert.verify_directly_issued_by(after.ca)
    installed.wait_for(
        "cainjector to add the new CA",
        lambda: ca_bundle(installed.plane) == [*bundle_before, after.ca],
        context=lambda: "\n".join(str(c.serial_number) for c in ca_bundle(installed.plane)),
    )
