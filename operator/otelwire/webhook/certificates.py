"""Serving certificates: self-signed for a developer's run, from files in a cluster.

kopf's own self-signed path (certbuilder + oscrypto) fails on OpenSSL 3, so
the certificate is made with ``cryptography``.  In a cluster the certificate
comes from a Secret (cert-manager compatible: ``tls.crt``/``tls.key``)
mounted as files, and ``cryptography`` is not imported at all: its import alone
adds ~8.6 MB to the operator's RSS (docs/decisions.md, "The webhook is otelwire's
own server").
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServingCertificate:
    certfile: Path
    keyfile: Path
    ca_bundle: bytes  # PEM the API server uses to verify us (the cert itself when self-signed)


def self_signed(directory: Path, hosts: Sequence[str], days: int = 30) -> ServingCertificate:
    """Write a self-signed ECDSA certificate valid for ``hosts`` (names or IPs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "otelwire")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    certfile = directory / "tls.crt"
    keyfile = directory / "tls.key"
    certfile.write_bytes(cert_pem)
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    keyfile.chmod(0o600)
    return ServingCertificate(certfile, keyfile, cert_pem)


def from_files(certfile: Path, keyfile: Path, cafile: Path | None = None) -> ServingCertificate:
    """A certificate mounted from a Secret; the CA bundle is ``ca.crt`` when present."""
    if not certfile.exists() or not keyfile.exists():
        raise FileNotFoundError(f"webhook certificate not found: {certfile} / {keyfile}")
    ca = cafile.read_bytes() if cafile is not None and cafile.exists() else certfile.read_bytes()
    return ServingCertificate(certfile, keyfile, ca)
