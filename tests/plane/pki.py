"""The plane's certificates and keys: throw-away CAs, serving and client certs, the service-account key pair.

Also handy on its own: tests that serve a webhook on 127.0.0.1 issue its certificate
with :class:`CertificateAuthority`.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A realistic service range, as kubeadm uses; the serving cert names its first address (the
# `kubernetes` Service's). Nothing here routes it: see local.py's _GUARD_POLICY.
SERVICE_CIDR: Final = "10.96.0.0/16"


@dataclass(frozen=True)
class CertPair:
    """A PEM certificate and its PEM private key, written to files."""

    cert: Path
    key: Path

    def cert_pem(self) -> bytes:
        return self.cert.read_bytes()

    def key_pem(self) -> bytes:
        return self.key.read_bytes()


@dataclass(frozen=True)
class Pki:
    """Everything TLS and token signing need for one plane.

    ``ca`` signs the API server's serving cert and every client cert (so it is the
    ``--client-ca-file``); ``front_proxy_ca`` signs only the client cert the API server
    presents to aggregated API servers, as in a kubeadm cluster.
    """

    ca: CertificateAuthority
    serving: CertPair
    clients: Mapping[str, CertPair]
    front_proxy_ca: CertificateAuthority
    front_proxy_client: CertPair
    sa_private_key: Path
    sa_public_key: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: generated in microseconds (RSA-2048 takes tens of milliseconds each), and
    # accepted by the API server for serving, client auth and service-account tokens (ES256).
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


class CertificateAuthority:
    """A throw-away CA that writes PEM files into one folder.

    Besides the plane's own PKI, tests use it for webhook servers on 127.0.0.1:
    ``ca.issue_server("webhook", ["127.0.0.1"])`` and ``ca.pair.cert_pem()`` as caBundle.
    """

    def __init__(self, directory: Path, stem: str = "ca", common_name: str = "otelwire-test-ca") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        now = datetime.datetime.now(datetime.UTC)
        self._not_before = now - datetime.timedelta(hours=1)  # tolerate clock skew between processes
        self._not_after = now + datetime.timedelta(days=2)
        self._key = _new_key()
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        usage = x509.KeyUsage(
            digital_signature=True,
            key_cert_sign=True,
            crl_sign=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
        )
        cert = (
            self._builder(self._name, self._key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pair = self._save(stem, cert, self._key)

    def _builder(self, subject: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
        )

    def _save(self, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertPair:
        return CertPair(
            _write(self.directory / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            _write(self.directory / f"{stem}.key", _key_pem(key)),
        )

    def _issue(
        self, stem: str, subject: x509.Name, usage: x509.ObjectIdentifier, sans: Sequence[x509.GeneralName]
    ) -> CertPair:
        key = _new_key()
        builder = (
            self._builder(subject, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        return self._save(stem, builder.sign(self._key, hashes.SHA256()), key)

    def issue_server(self, stem: str, hosts: Sequence[str], common_name: str | None = None) -> CertPair:
        """A serving cert for ``hosts`` (IP addresses or DNS names)."""
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or hosts[0])])
        return self._issue(stem, subject, ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def issue_client(self, stem: str, user: str, groups: Sequence[str] = ()) -> CertPair:
        """A client cert the API server reads as user ``user`` (CN) in ``groups`` (O)."""
        subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        return self._issue(stem, x509.Name(subject), ExtendedKeyUsageOID.CLIENT_AUTH, [])


def make_pki(directory: Path, clients: Mapping[str, tuple[str, Sequence[str]]], extra_hosts: Sequence[str] = ()) -> Pki:
    """Create the CAs, the API server's serving cert, client certs and a service-account key pair.

    ``clients`` maps a file stem to (common name = user, organisations = groups); ``extra_hosts``
    are more addresses the API server is reached at.
    """
    ca = CertificateAuthority(directory)
    service_ip = str(next(ipaddress.IPv4Network(SERVICE_CIDR).hosts()))  # the `kubernetes` Service's IP
    serving = ca.issue_server(
        "apiserver",
        [
            "127.0.0.1",
            service_ip,
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            *extra_hosts,
        ],
        common_name="kube-apiserver",
    )
    client_pairs = {stem: ca.issue_client(stem, user, groups) for stem, (user, groups) in clients.items()}
    front_proxy_ca = CertificateAuthority(directory, "front-proxy-ca", "otelwire-test-front-proxy-ca")
    front_proxy_client = front_proxy_ca.issue_client("front-proxy-client", "front-proxy-client")
    sa_key = _new_key()
    sa_private = _write(directory / "sa.key", _key_pem(sa_key))
    sa_public = _write(
        directory / "sa.pub",
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    return Pki(
        ca=ca,
        serving=serving,
        clients=client_pairs,
        front_proxy_ca=front_proxy_ca,
        front_proxy_client=front_proxy_client,
        sa_private_key=sa_private,
        sa_public_key=sa_public,
    )
