"""A real Kubernetes control plane for the tests: etcd, kube-apiserver and, on request, nodes.

Why a real one: the operator's correctness lives in how the API server treats it —
structural-schema and CEL validation of the CRD, strategic-merge versus JSON-merge
patches on container lists, server-side apply field ownership, the status
subresource, RBAC, admission webhooks over TLS, resourceVersion conflicts. A mock
answers none of that truthfully, so the tests talk to the upstream binaries that
``tests/controlplane/build.sh`` (``make controlplane``) compiles from Go modules.

What runs, each in its own process group, on free loopback ports, with data,
certificates and logs in one temporary folder:

* ``etcd`` (``--unsafe-no-fsync``: a test cluster never needs durability);
* ``kube-apiserver`` with RBAC (``--authorization-mode=Node,RBAC``), the admission
  plugins a real cluster has, TLS everywhere and a service-account signing key;
* a *housekeeping* ``kube-controller-manager`` limited to the controllers without
  which a namespace is not usable (service accounts — the ``ServiceAccount``
  admission plugin refuses pods until ``default`` exists —, their root CA
  ConfigMap, namespace deletion, garbage collection);
* on :meth:`LocalPlane.start_nodes`: the full controller manager instead,
  ``kube-scheduler`` and ``kwok`` with fake Nodes, so Deployments get Pods that
  reach Running and DaemonSets get scheduled.

Nothing may outlive its plane, even when a test fails or the run is interrupted:
processes start in new sessions (their own process groups), are stopped group by
group (SIGTERM, then SIGKILL), and are also reaped by an ``atexit`` hook and by
SIGTERM/SIGHUP handlers; on Linux each child also gets ``PR_SET_PDEATHSIG`` so
that even a SIGKILLed pytest takes them down with it.

Where the binaries come from (first match wins): ``KUBEBUILDER_ASSETS`` (etcd,
kube-apiserver, kubectl as setup-envtest lays them out; the node components are
then taken from the local build when it has them), else
``.cache/controlplane/$KUBERNETES_VERSION/bin`` with versions from
``tests/controlplane/versions.env``. With ``OTELWIRE_E2E_KUBECONFIG`` set,
:class:`ExternalPlane` uses that existing cluster (e.g. kind) and starts nothing.

The fixtures built on this live in ``tests/conftest.py``; the how-to is
``docs/testing.md``.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, Final

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CONTROLPLANE_DIR: Final = REPO_ROOT / "tests" / "controlplane"
VERSIONS_FILE: Final = CONTROLPLANE_DIR / "versions.env"

ENV_ASSETS: Final = "KUBEBUILDER_ASSETS"
ENV_EXTERNAL: Final = "OTELWIRE_E2E_KUBECONFIG"
ENV_KEEP: Final = "OTELWIRE_PLANE_KEEP"  # keep the temporary folder (logs, data) after stop

# A realistic service range, as kubeadm uses. Nothing here routes it: see _GUARD_POLICY.
SERVICE_CIDR: Final = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"

# Admission plugins of a kubeadm cluster, named explicitly (most are on by default)
# so that a reader sees what the tests run against.
ADMISSION_PLUGINS: Final = (
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "DefaultIngressClass",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
)

# Controllers that make a namespace usable; the rest need nodes to mean anything.
HOUSEKEEPING_CONTROLLERS: Final = (
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "namespace-controller",
    "garbage-collector-controller",
)

# Every controller except those that need a cloud or real node networking.
ALL_CONTROLLERS: Final = ("*", "-service-lb-controller", "-node-route-controller", "-cloud-node-lifecycle-controller")

NODE_COUNT: Final = 3
KWOK_NODE_ANNOTATION: Final = "kwok.x-k8s.io/node"

READY_TIMEOUT: Final = 120.0  # seconds; a cold 2-core machine under a parallel build is slow
STOP_TIMEOUT: Final = 15.0


class PlaneError(RuntimeError):
    """The control plane could not be found, started or used; the message says what to do."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; unlike CalledProcessError, str() includes its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr:\n{self.stderr}\nstdout:\n{self.output}"


# --------------------------------------------------------------------------- versions


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """The ``KEY=value`` pins of versions.env, the file build.sh sources."""
    versions: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip().strip("\"'")
    return versions


def cache_dir(versions: Mapping[str, str] | None = None) -> Path:
    """Where build.sh puts this version's binaries and kwok stages."""
    pins = versions if versions is not None else read_versions()
    return REPO_ROOT / ".cache" / "controlplane" / pins["KUBERNETES_VERSION"]


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class Binaries:
    """Paths to the executables a plane runs; the node components may be missing."""

    bin_dir: Path
    version: str
    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    kube_controller_manager: Path | None = None
    kube_scheduler: Path | None = None
    kwok: Path | None = None
    kwok_stages: Path | None = None

    def require_nodes(self) -> tuple[Path, Path, Path, Path]:
        """(controller manager, scheduler, kwok, kwok stages), or a PlaneError saying how to get them."""
        kcm, scheduler, kwok, stages = self.kube_controller_manager, self.kube_scheduler, self.kwok, self.kwok_stages
        if kcm is None or scheduler is None or kwok is None or stages is None:
            named = zip(
                ("kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"),
                (kcm, scheduler, kwok, stages),
                strict=True,
            )
            missing = ", ".join(name for name, path in named if path is None)
            raise PlaneError(f"nodes need {missing}: run `make controlplane`")
        return kcm, scheduler, kwok, stages


def _executable(directory: Path, name: str) -> Path | None:
    path = directory / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


def locate_binaries(env: Mapping[str, str] | None = None) -> Binaries:
    """Find the binaries: KUBEBUILDER_ASSETS first, then the local build.

    Raises PlaneError with the command to run when neither has them.
    """
    environ = os.environ if env is None else env
    versions = read_versions()
    built = cache_dir(versions) / "bin"
    stages = cache_dir(versions) / "kwok-stages.yaml"
    assets = environ.get(ENV_ASSETS, "").strip()
    primary = Path(assets) if assets else built
    etcd, apiserver, kubectl = (_executable(primary, name) for name in ("etcd", "kube-apiserver", "kubectl"))
    if etcd is None or apiserver is None or kubectl is None:
        named = zip(("etcd", "kube-apiserver", "kubectl"), (etcd, apiserver, kubectl), strict=True)
        missing = ", ".join(name for name, path in named if path is None)
        hint = (
            f"{ENV_ASSETS}={assets} lacks {missing}"
            if assets
            else f"{built} lacks {missing}: run `make controlplane` (tests/controlplane/build.sh)"
        )
        raise PlaneError(f"no control-plane binaries: {hint}")

    def node_part(name: str) -> Path | None:
        # envtest ships no node components: fall back to the local build for those.
        return _executable(primary, name) or _executable(built, name)

    version = versions["KUBERNETES_VERSION"]
    if assets:
        version = _binary_version(apiserver) or version
    return Binaries(
        bin_dir=primary,
        version=version,
        etcd=etcd,
        kube_apiserver=apiserver,
        kubectl=kubectl,
        kube_controller_manager=node_part("kube-controller-manager"),
        kube_scheduler=node_part("kube-scheduler"),
        kwok=node_part("kwok"),
        kwok_stages=stages if stages.is_file() else None,
    )


def _binary_version(apiserver: Path) -> str | None:
    """``Kubernetes v1.36.3`` -> ``v1.36.3``."""
    try:
        out = subprocess.run([apiserver, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.split()
    return parts[-1] if parts else None


# --------------------------------------------------------------------------- certificates


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


def _client_user(pair: CertPair) -> dict[str, str]:
    return {"client-certificate-data": _b64(pair.cert_pem()), "client-key-data": _b64(pair.key_pem())}


# --------------------------------------------------------------------------- processes

_LIVE: set[Component] = set()
_LIVE_PLANES: set[LocalPlane] = set()
_LIVE_LOCK = threading.Lock()
_REAPER_INSTALLED = False
_PREVIOUS_HANDLERS: dict[int, Any] = {}
_PR_SET_PDEATHSIG: Final = 1


def _reap_all() -> None:
    """Stop every plane and component still running: the atexit / signal safety net."""
    with _LIVE_LOCK:
        planes = list(_LIVE_PLANES)
    for plane in planes:
        plane.stop()
    with _LIVE_LOCK:
        strays = sorted(_LIVE, key=lambda c: c.started_at, reverse=True)
    for component in strays:
        component.stop(timeout=5.0)


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP: stop the planes, then end the program the way Ctrl-C does.

    A previous Python handler is called instead. Where the default (die at once) was
    in force, KeyboardInterrupt is raised: pytest then stops the session and runs
    fixture teardown — SystemExit would only fail the current test and carry on with
    the plane gone — and a plain script unwinds its finally-blocks and atexit hooks.
    """
    _reap_all()
    previous = _PREVIOUS_HANDLERS.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _install_reaper() -> None:
    """Register the atexit hook and the SIGTERM/SIGHUP handlers, once.

    SIGINT is left alone: pytest turns it into KeyboardInterrupt, which runs fixture
    teardown and then atexit.
    """
    global _REAPER_INSTALLED
    if _REAPER_INSTALLED:
        return
    _REAPER_INSTALLED = True
    atexit.register(_reap_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            _PREVIOUS_HANDLERS[signum] = signal.getsignal(signum)
            signal.signal(signum, _on_fatal_signal)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when this process dies (Linux only).

    Only from the main thread: the kernel ties PDEATHSIG to the thread that forked,
    so a child forked from a short-lived thread would die with that thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg succeeds while zombies remain; ask /proc whether a live member is left.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass(eq=False)
class Component:
    """One process of the plane, in its own session (process group), logging to a file."""

    name: str
    argv: list[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def start(self) -> Component:
        _install_reaper()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C reaches us, not them
                preexec_fn=_die_with_parent_hook(),  # only prctl; main thread only
                env=dict(self.env) if self.env is not None else None,
            )
        self.started_at = time.monotonic()
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the whole process group, SIGKILL it after ``timeout``; reap the child."""
        popen = self.popen
        if popen is None:
            return
        pgid = popen.pid  # start_new_session: the group id is the child's pid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=0.1)
                if popen.poll() is not None and not _group_alive(pgid):
                    break
            else:
                continue
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=5.0)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(
    what: str, check: Callable[[], bool], timeout: float, component: Component | None = None, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if component is not None and not component.running():
            raise PlaneError(f"{component.name} exited while waiting for {what}:\n{component.log_tail()}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, subprocess.SubprocessError, ValueError):
            pass
        if time.monotonic() > deadline:
            tail = f":\n{component.log_tail()}" if component is not None else ""
            raise PlaneError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        time.sleep(interval)


# --------------------------------------------------------------------------- planes


class Plane:
    """What tests get: a kubeconfig, the server URL and a kubectl that matches the server.

    Subclasses: :class:`LocalPlane` (started here) and :class:`ExternalPlane` (an existing
    cluster). Both offer the same helpers for RBAC tests.
    """

    kubeconfig: Path
    server: str
    bin_dir: Path
    version: str
    kubectl_path: Path
    workdir: Path
    nodes: list[str]

    def kubectl_env(self) -> dict[str, str]:
        return dict(os.environ)

    def kubectl(
        self,
        *args: str,
        input: str | None = None,  # the name subprocess.run uses
        check: bool = True,
        timeout: float = 120.0,
        kubeconfig: Path | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run this plane's kubectl against it; raise KubectlError (with stderr) on failure if ``check``.

        ``cwd``: where relative paths (``-f``, ``-k``) are read from (default: the repository).
        """
        argv = [str(self.kubectl_path), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        result = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.kubectl_env(),
            cwd=cwd or REPO_ROOT,
        )
        if check and result.returncode != 0:
            stdout = result.stdout
            if args[:2] == ("rollout", "status"):  # a timeout says nothing of why: say what the cluster saw
                stdout += self._namespace_state(args, kubeconfig)
            raise KubectlError(result.returncode, argv, stdout, result.stderr)
        return result

    def _namespace_state(self, args: Sequence[str], kubeconfig: Path | None) -> str:
        """Pods, ReplicaSets and events of the namespace ``args`` name (``-n``), for a failure message."""
        namespace = next((args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("-n", "--namespace")), "default")
        parts = []
        for what in (("get", "pods,replicasets", "-o", "wide"), ("get", "events", "--sort-by=.lastTimestamp")):
            try:
                found = self.kubectl(*what, "-n", namespace, check=False, timeout=30, kubeconfig=kubeconfig)
                parts.append(f"\n--- kubectl {' '.join(what)} -n {namespace}:\n{found.stdout}{found.stderr}")
            except subprocess.TimeoutExpired:
                parts.append(f"\n--- kubectl {' '.join(what)} -n {namespace}: timed out")
        return "".join(parts)

    def kubectl_json(self, *args: str) -> Any:
        """``kubectl ... -o json``, parsed."""
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], *args: str) -> str:
        """``kubectl apply -f -`` of YAML text or of objects; returns kubectl's stdout."""
        if isinstance(manifest, str):
            text = manifest
        elif isinstance(manifest, Mapping):
            text = yaml.safe_dump(dict(manifest))
        else:
            text = yaml.safe_dump_all([dict(obj) for obj in manifest])
        return self.kubectl("apply", "-f", "-", *args, input=text).stdout

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None, timeout: float = 60.0) -> str:
        """Create a namespace and wait for its ``default`` ServiceAccount (pods need it).

        Without a controller manager (envtest binaries only) the ServiceAccount is
        created here, as the serviceaccount controller would.
        """
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}})
        if not self.has_serviceaccount_controller():
            sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}
            self.apply(sa)
        _wait_until(
            f"serviceaccount {name}/default",
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            timeout,
        )
        return name

    def has_serviceaccount_controller(self) -> bool:
        """Whether a controller manager creates each namespace's ``default`` ServiceAccount."""
        return True

    def _admin_cluster(self) -> tuple[str, bytes]:
        """(server, CA PEM) from the admin kubeconfig's current context."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        if "certificate-authority-data" in cluster:
            ca = base64.b64decode(cluster["certificate-authority-data"])
        else:
            ca = Path(cluster["certificate-authority"]).read_bytes()
        return cluster["server"], ca

    def _admin_user(self) -> dict[str, Any]:
        config = yaml.safe_load(self.kubeconfig.read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        return dict(next(u["user"] for u in config["users"] if u["name"] == context["user"]))

    def serviceaccount_kubeconfig(
        self, namespace: str, name: str, path: Path | None = None, duration: str = "1h"
    ) -> Path:
        """A kubeconfig that authenticates as ServiceAccount ``namespace/name`` with a bound token.

        For RBAC tests: what the operator can do when it runs under that account.
        """
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()
        server, ca = self._admin_cluster()
        target = path or self.workdir / f"kubeconfig-sa-{namespace}-{name}"
        return write_kubeconfig(target, server, ca, {"token": token}, name=f"sa-{namespace}-{name}")

    def impersonation_kubeconfig(self, user: str, groups: Sequence[str] = (), path: Path | None = None) -> Path:
        """A kubeconfig that uses the admin credentials to impersonate ``user`` (and ``groups``).

        ``system:serviceaccount:ns:sa`` impersonates a ServiceAccount without a token.
        """
        creds = self._admin_user()
        creds["as"] = user
        if groups:
            creds["as-groups"] = list(groups)
        server, ca = self._admin_cluster()
        safe = user.replace(":", "_").replace("/", "_")
        target = path or self.workdir / f"kubeconfig-as-{safe}"
        return write_kubeconfig(target, server, ca, creds, name=f"as-{safe}")

    def start_nodes(self, count: int = NODE_COUNT) -> list[str]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


# Nothing on this machine routes service or pod IPs (no kube-proxy, no kubelet, no CNI), and
# traffic to addresses that are not loopback or a test host must not leave it. The API server
# runs with endpoint routing (--enable-aggregator-routing): a webhook naming a Service is called
# at an address of one of the Service's EndpointSlices, never at its cluster IP. So the plane
# admits only EndpointSlices (and Endpoints) whose addresses are test hosts, which tests create
# in network namespaces of their own (tests/support/network.py) inside the plane's host subnet;
# the endpoints controllers' slices for kwok's fake pod IPs are refused. Aggregated API servers
# are refused altogether.
_GUARD_POLICY: Final = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: otelwire-test-plane-endpoints
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["apiregistration.k8s.io"]
      apiVersions: ["*"]
      operations: ["CREATE", "UPDATE"]
      resources: ["apiservices"]
    - apiGroups: ["discovery.k8s.io"]
      apiVersions: ["*"]
      operations: ["CREATE", "UPDATE"]
      resources: ["endpointslices"]
    - apiGroups: [""]
      apiVersions: ["*"]
      operations: ["CREATE", "UPDATE"]
      resources: ["endpoints"]
  validations:
  - expression: >-
      object.kind == 'APIService'
      ? !has(object.spec.service) || object.spec.service == null
      : object.kind == 'EndpointSlice'
      ? !has(object.endpoints) || object.endpoints.all(e, e.addresses.all(a,
          isIP(a) && cidr('{subnet}').containsIP(a)))
      : !has(object.subsets) || object.subsets.all(s,
          (!has(s.addresses) || s.addresses.all(a, cidr('{subnet}').containsIP(a.ip))) &&
          (!has(s.notReadyAddresses) || s.notReadyAddresses.all(a, cidr('{subnet}').containsIP(a.ip))))
    message: >-
      the otelwire test plane routes only to test hosts in {subnet}: an endpoint must be one
      (tests/support/network.py), and no aggregated API server can be reached
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: otelwire-test-plane-endpoints
spec:
  policyName: otelwire-test-plane-endpoints
  validationActions: ["Deny"]
"""

# The operator's requests, as the API server's audit log records them, prove that the shipped
# RBAC grants what it uses and nothing more (tests/install). Only its service accounts are logged.
AUDITED_GROUP: Final = "system:serviceaccounts:otelwire-system"
_AUDIT_POLICY: Final = f"""
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["{AUDITED_GROUP}"]
- level: None
"""


def free_host_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.244.0.0/16 that no interface of this machine has an address in: the test hosts'."""
    try:
        shown = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        shown = ""
    used = {line.split()[3] for line in shown.splitlines() if len(line.split()) > 3}
    taken = {ipaddress.IPv4Interface(address).network for address in used}
    candidates = [ipaddress.IPv4Network(f"10.244.{n}.0/24") for n in range(1, 255)]
    free = [net for net in candidates if not any(net.overlaps(t) for t in taken)]
    if not free:
        raise PlaneError("no free /24 in 10.244.0.0/16 for test hosts")
    return free[int.from_bytes(os.urandom(2), "big") % len(free)]


def _node_manifest(name: str) -> dict[str, Any]:
    resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
            "phase": "Running",
        },
    }


class LocalPlane(Plane):
    """etcd + kube-apiserver (+ housekeeping controller manager), started from local binaries.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. :meth:`start_nodes`
    adds the full controller manager, the scheduler and kwok with fake Nodes.
    """

    def __init__(self, binaries: Binaries | None = None, workdir: Path | None = None) -> None:
        self.binaries = binaries or locate_binaries()
        self.bin_dir = self.binaries.bin_dir
        self.version = self.binaries.version
        self.kubectl_path = self.binaries.kubectl
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="otelwire-plane-"))
        self.logs_dir = self.workdir / "logs"
        self.kubeconfig = self.workdir / "admin.kubeconfig"
        self.server = ""
        self.nodes = []
        self.components: dict[str, Component] = {}
        self.pki: Pki | None = None
        self.startup_seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        # Where tests put hosts of their own (network namespaces): the API server is reachable at
        # the first address, which its serving certificate names, and routes only to this subnet.
        self.host_subnet = free_host_subnet()
        self.audit_log = self.logs_dir / "audit.log"

    # -- lifecycle

    def __enter__(self) -> LocalPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def has_serviceaccount_controller(self) -> bool:
        return "kube-controller-manager" in self.components

    def kubectl_env(self) -> dict[str, str]:
        # A per-plane discovery cache: ports are random, ~/.kube/cache would only collect litter.
        return {**os.environ, "KUBECACHEDIR": str(self.workdir / "kubectl-cache")}

    def start(self, timeout: float = READY_TIMEOUT) -> LocalPlane:
        """Start etcd and kube-apiserver, wait for /readyz, then the housekeeping controllers."""
        _install_reaper()
        with _LIVE_LOCK:
            _LIVE_PLANES.add(self)
        for attempt in (1, 2):
            try:
                self._start(timeout)
                return self
            except PlaneError as exc:
                # free_port() cannot reserve a port: another process may take it first.
                self._stop_components()
                self.components.clear()
                shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
                if attempt == 2 or "address already in use" not in str(exc):
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise
        return self

    def _start(self, timeout: float) -> None:
        begin = time.monotonic()
        self.pki = make_pki(
            self.workdir / "pki",
            {
                "admin": ("otelwire-test-admin", ["system:masters"]),
                "kube-controller-manager": ("system:kube-controller-manager", []),
                "kube-scheduler": ("system:kube-scheduler", []),
                "kwok": ("kwok", ["system:masters"]),
            },
            extra_hosts=[str(self.gateway)],
        )
        etcd_port, etcd_peer_port, api_port = free_port(), free_port(), free_port()
        etcd = self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def etcd_healthy() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")

        _wait_until("etcd /health", etcd_healthy, timeout, etcd)
        self.startup_seconds["etcd"] = time.monotonic() - begin

        pki = self.pki
        self.server = f"https://127.0.0.1:{api_port}"
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving.cert}",
                f"--tls-private-key-file={pki.serving.key}",
                f"--client-ca-file={pki.ca.pair.cert}",
                f"--requestheader-client-ca-file={pki.front_proxy_ca.pair.cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki.front_proxy_client.cert}",
                f"--proxy-client-key-file={pki.front_proxy_client.key}",
                f"--service-account-key-file={pki.sa_public_key}",
                f"--service-account-signing-key-file={pki.sa_private_key}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",  # 127.0.0.1 is no valid Endpoints address
                "--enable-aggregator-routing=true",  # webhooks at an EndpointSlice address (_GUARD_POLICY)
                f"--audit-policy-file={self._audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--profiling=false",
                "--v=1",
            ],
        )
        ssl_ctx = ssl.create_default_context(cafile=str(pki.ca.pair.cert))
        ssl_ctx.load_cert_chain(str(pki.clients["admin"].cert), str(pki.clients["admin"].key))

        def apiserver_ready() -> bool:
            with urllib.request.urlopen(f"{self.server}/readyz", context=ssl_ctx, timeout=5) as resp:
                return bool(resp.status == 200)

        _wait_until("kube-apiserver /readyz", apiserver_ready, timeout, apiserver, interval=0.3)
        self.startup_seconds["kube-apiserver"] = time.monotonic() - begin

        write_kubeconfig(self.kubeconfig, self.server, pki.ca.pair.cert_pem(), _client_user(pki.clients["admin"]))
        for stem in ("kube-controller-manager", "kube-scheduler", "kwok"):
            write_kubeconfig(
                self.workdir / f"{stem}.kubeconfig",
                self.server,
                pki.ca.pair.cert_pem(),
                _client_user(pki.clients[stem]),
            )
        self.apply(_GUARD_POLICY.replace("{subnet}", str(self.host_subnet)))

        if self.binaries.kube_controller_manager is not None:
            self._start_controller_manager(HOUSEKEEPING_CONTROLLERS)
            _wait_until(
                "serviceaccount default/default",
                lambda: self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
                timeout,
                self.components["kube-controller-manager"],
            )
        self.startup_seconds["total"] = time.monotonic() - begin

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The host subnet's first address: the test hosts' way to the API server (``tests/support/network``)."""
        return next(self.host_subnet.hosts())

    def _audit_policy(self) -> Path:
        path = self.workdir / "audit-policy.yaml"
        path.write_text(_AUDIT_POLICY)
        return path

    def _spawn(self, name: str, argv: list[str]) -> Component:
        component = Component(name, argv, self.logs_dir / f"{name}.log").start()
        self.components[name] = component
        return component

    def _start_controller_manager(self, controllers: Sequence[str]) -> Component:
        assert self.pki is not None and self.binaries.kube_controller_manager is not None
        kubeconfig = self.workdir / "kube-controller-manager.kubeconfig"
        return self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={kubeconfig}",
                "--secure-port=0",  # no /healthz or /metrics server: nothing here scrapes it
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={self.pki.sa_private_key}",
                f"--root-ca-file={self.pki.ca.pair.cert}",
                f"--cluster-signing-cert-file={self.pki.ca.pair.cert}",
                f"--cluster-signing-key-file={self.pki.ca.pair.key}",
                f"--flex-volume-plugin-dir={self.workdir / 'flexvolume'}",  # default is under /usr/libexec
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--controllers={','.join(controllers)}",
                "--concurrent-gc-syncs=5",
                # The default client QPS (20) makes 1,000 Deployments take minutes to get their Pods;
                # a local plane has no other tenant to protect.
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--v=1",
            ],
        )

    def start_nodes(self, count: int = NODE_COUNT) -> list[str]:
        """Swap in the full controller manager, start kube-scheduler and kwok, register fake Nodes.

        Idempotent; returns the Node names once they are Ready.
        """
        with self._lock:
            if self.nodes:
                return self.nodes
            begin = time.monotonic()
            _, scheduler_bin, kwok_bin, stages = self.binaries.require_nodes()
            old = self.components.pop("kube-controller-manager", None)
            if old is not None:
                old.stop()
            self._start_controller_manager(ALL_CONTROLLERS)
            sched_kubeconfig = self.workdir / "kube-scheduler.kubeconfig"
            self._spawn(
                "kube-scheduler",
                [
                    str(scheduler_bin),
                    f"--kubeconfig={sched_kubeconfig}",
                    "--secure-port=0",
                    "--leader-elect=false",
                    "--kube-api-qps=500",  # deprecated flag, still the only one without a config file
                    "--kube-api-burst=1000",
                    "--v=1",
                ],
            )
            self._spawn(
                "kwok",
                [
                    str(kwok_bin),
                    f"--kubeconfig={self.workdir / 'kwok.kubeconfig'}",
                    f"--config={stages}",
                    "--manage-all-nodes=false",
                    f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                    "--node-ip=127.0.0.1",
                    f"--server-address=127.0.0.1:{free_port()}",
                    "--v=WARN",
                ],
            )
            names = [f"kwok-node-{i}" for i in range(count)]
            self.apply([_node_manifest(name) for name in names])

            def all_ready() -> bool:
                items = self.kubectl_json("get", "nodes", "-l", "type=kwok")["items"]
                ready = {
                    item["metadata"]["name"]
                    for item in items
                    for cond in item.get("status", {}).get("conditions", [])
                    if cond["type"] == "Ready" and cond["status"] == "True"
                }
                return set(names) <= ready

            _wait_until("kwok nodes Ready", all_ready, READY_TIMEOUT, self.components["kwok"], interval=0.5)
            self.nodes = names
            self.startup_seconds["nodes"] = time.monotonic() - begin
            return self.nodes

    def _stop_components(self) -> None:
        for name in ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            component = self.components.get(name)
            if component is not None:
                component.stop()
        for component in list(self.components.values()):  # anything not named above
            component.stop()

    def pids(self) -> dict[str, int]:
        """The pid (= process group id) of every component started so far."""
        return {name: component.pid for name, component in self.components.items() if component.popen}

    def stop(self) -> None:
        """Stop every component (dependents first) and remove the temporary folder."""
        self._stop_components()
        if self._own_workdir and not os.environ.get(ENV_KEEP):
            shutil.rmtree(self.workdir, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE_PLANES.discard(self)


class ExternalPlane(Plane):
    """An existing cluster (kind, a CI cluster) named by ``OTELWIRE_E2E_KUBECONFIG``; starts nothing."""

    def __init__(self, kubeconfig: Path, kubectl: Path | None = None) -> None:
        if not kubeconfig.is_file():
            raise PlaneError(f"{ENV_EXTERNAL}={kubeconfig}: no such file")
        self.kubeconfig = kubeconfig
        self.kubectl_path = kubectl or _external_kubectl()
        self.bin_dir = self.kubectl_path.parent
        self.workdir = Path(tempfile.mkdtemp(prefix="otelwire-external-"))
        self.server, _ = self._admin_cluster()
        self.version = self.kubectl_json("version")["serverVersion"]["gitVersion"]
        self.nodes = []

    def start_nodes(self, count: int = NODE_COUNT) -> list[str]:
        """The cluster's Ready nodes; it must have at least one."""
        items = self.kubectl_json("get", "nodes")["items"]
        self.nodes = [
            item["metadata"]["name"]
            for item in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"].get("conditions", []))
        ]
        if not self.nodes:
            raise PlaneError(f"{ENV_EXTERNAL}: the cluster has no Ready node")
        return self.nodes

    def stop(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _external_kubectl() -> Path:
    """kubectl for an external cluster: the one built here, else envtest's, else PATH's."""
    with contextlib.suppress(PlaneError, KeyError, OSError):
        return locate_binaries().kubectl
    found = shutil.which("kubectl")
    if found is None:
        raise PlaneError("no kubectl: run `make controlplane` or put kubectl on PATH")
    return Path(found)


def plane_from_environment() -> Plane:
    """The plane the environment asks for: an existing cluster or a freshly started local one."""
    external = os.environ.get(ENV_EXTERNAL, "").strip()
    if external:
        return ExternalPlane(Path(external).expanduser())
    return LocalPlane().start()


@contextlib.contextmanager
def running_plane(binaries: Binaries | None = None) -> Iterator[LocalPlane]:
    """``with running_plane() as plane:`` — a LocalPlane stopped however the block ends."""
    plane = LocalPlane(binaries)
    try:
        yield plane.start()
    finally:
        plane.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``python tests/plane.py [--nodes | --no-controllers]``: start a plane, print it as JSON, wait.

    Handy for poking at the plane by hand (``KUBECONFIG=<kubeconfig> kubectl ...``, with
    the kubectl in ``bin_dir``) until Ctrl-C; also what the teardown tests run in a
    child process. ``--no-controllers`` starts etcd and kube-apiserver only.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    binaries = locate_binaries()
    if "--no-controllers" in args:
        binaries = replace(binaries, kube_controller_manager=None)
    with running_plane(binaries) as plane:
        if "--nodes" in args:
            plane.start_nodes()
        print(
            json.dumps(
                {
                    "kubeconfig": str(plane.kubeconfig),
                    "server": plane.server,
                    "bin_dir": str(plane.bin_dir),
                    "version": plane.version,
                    "workdir": str(plane.workdir),
                    "pids": plane.pids(),
                    "startup_seconds": plane.startup_seconds,
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
