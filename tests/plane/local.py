"""A plane started here from local binaries: etcd, kube-apiserver, a housekeeping controller manager; nodes on request.

What runs, each in its own process group, on free loopback ports, with data,
certificates and logs in one temporary folder:

* ``etcd`` (``--unsafe-no-fsync``: a test cluster never needs durability);
* ``kube-apiserver`` with RBAC (``--authorization-mode=Node,RBAC``), the admission
  plugins a real cluster has, TLS everywhere, a service-account signing key, an audit
  log of the operator's requests and a guard policy that keeps traffic on this machine;
* a *housekeeping* ``kube-controller-manager`` limited to the controllers without
  which a namespace is not usable;
* on :meth:`LocalPlane.start_nodes`: the full controller manager instead,
  ``kube-scheduler`` and ``kwok`` with fake Nodes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from plane.base import NODE_COUNT, Plane
from plane.binaries import Binaries, locate_binaries
from plane.errors import PlaneError
from plane.kubeconfig import client_user, write_kubeconfig
from plane.pki import SERVICE_CIDR, Pki, make_pki
from plane.processes import Component, free_port, track_plane, untrack_plane, wait_until

ENV_KEEP: Final = "OTELWIRE_PLANE_KEEP"  # keep the temporary folder (logs, data) after stop
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

KWOK_NODE_ANNOTATION: Final = "kwok.x-k8s.io/node"

READY_TIMEOUT: Final = 120.0  # seconds; a cold 2-core machine under a parallel build is slow


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
        track_plane(self)
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

        wait_until("etcd /health", etcd_healthy, timeout, etcd)
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

        wait_until("kube-apiserver /readyz", apiserver_ready, timeout, apiserver, interval=0.3)
        self.startup_seconds["kube-apiserver"] = time.monotonic() - begin

        write_kubeconfig(self.kubeconfig, self.server, pki.ca.pair.cert_pem(), client_user(pki.clients["admin"]))
        for stem in ("kube-controller-manager", "kube-scheduler", "kwok"):
            write_kubeconfig(
                self.workdir / f"{stem}.kubeconfig",
                self.server,
                pki.ca.pair.cert_pem(),
                client_user(pki.clients[stem]),
            )
        self.apply(_GUARD_POLICY.replace("{subnet}", str(self.host_subnet)))

        if self.binaries.kube_controller_manager is not None:
            self._start_controller_manager(HOUSEKEEPING_CONTROLLERS)
            wait_until(
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
                    # kwok renews a Lease per Node only when told its duration: with a --config of Stage
                    # objects its default (40) is not applied, no Lease exists, and the node lifecycle
                    # controller marks every Node NotReady 50 s after the last status heartbeat (the stage
                    # posts one every 10-20 min), and with it every Pod on them: rollouts then stall.
                    "--node-lease-duration-seconds=40",
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

            wait_until("kwok nodes Ready", all_ready, READY_TIMEOUT, self.components["kwok"], interval=0.5)
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
        untrack_plane(self)


@contextlib.contextmanager
def running_plane(binaries: Binaries | None = None) -> Iterator[LocalPlane]:
    """``with running_plane() as plane:`` — a LocalPlane stopped however the block ends."""
    plane = LocalPlane(binaries)
    try:
        yield plane.start()
    finally:
        plane.stop()
