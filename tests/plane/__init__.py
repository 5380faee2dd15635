"""A real Kubernetes control plane for the tests: etcd, kube-apiserver and, on request, nodes.

Why a real one: the operator's correctness lives in how the API server treats it —
structural-schema and CEL validation of the CRD, strategic-merge versus JSON-merge
patches on container lists, server-side apply field ownership, the status
subresource, RBAC, admission webhooks over TLS, resourceVersion conflicts. A mock
answers none of that truthfully, so the tests talk to the upstream binaries that
``tests/controlplane/build.sh`` (``make controlplane``) compiles from Go modules.

The package, by concern (``from plane import X`` works for every name below):

* ``binaries`` — the pinned versions (``tests/controlplane/versions.env``) and where the
  binaries are: ``KUBEBUILDER_ASSETS``, else ``.cache/controlplane/$KUBERNETES_VERSION/bin``;
* ``pki`` — throw-away CAs, serving and client certificates, the service-account keys;
* ``kubeconfig`` — self-contained kubeconfig files;
* ``processes`` — :class:`Component` (one process in its own process group) and the reaper:
  nothing may outlive its plane, even when a test fails or the run is interrupted
  (process groups stopped SIGTERM then SIGKILL, an ``atexit`` hook, SIGTERM/SIGHUP
  handlers, and ``PR_SET_PDEATHSIG`` so that even a SIGKILLed pytest takes them along);
* ``base`` — :class:`Plane`, what every plane offers a test (kubectl, apply, namespaces,
  kubeconfigs for RBAC tests);
* ``local`` — :class:`LocalPlane`: etcd, kube-apiserver (RBAC, real admission plugins,
  TLS) and a housekeeping controller manager, started here; on
  :meth:`LocalPlane.start_nodes` also the full controller manager, kube-scheduler and
  kwok with fake Nodes;
* ``external`` — :class:`ExternalPlane`: the existing cluster (e.g. kind) named by
  ``OTELWIRE_E2E_KUBECONFIG``, which starts nothing; and :func:`plane_from_environment`;
* ``__main__`` — ``.venv/bin/python tests/plane [--nodes | --no-controllers]`` starts a
  plane by hand and prints it as JSON until Ctrl-C.

The fixtures built on this live in ``tests/conftest.py`` (which puts ``tests/`` on
``sys.path``); the how-to is ``docs/testing.md``.
"""

from plane.base import NODE_COUNT, Plane
from plane.binaries import (
    CONTROLPLANE_DIR,
    ENV_ASSETS,
    REPO_ROOT,
    VERSIONS_FILE,
    Binaries,
    cache_dir,
    locate_binaries,
    read_versions,
)
from plane.errors import KubectlError, PlaneError
from plane.external import ENV_EXTERNAL, ExternalPlane, plane_from_environment
from plane.kubeconfig import write_kubeconfig
from plane.local import (
    ADMISSION_PLUGINS,
    ALL_CONTROLLERS,
    AUDITED_GROUP,
    ENV_KEEP,
    HOUSEKEEPING_CONTROLLERS,
    KWOK_NODE_ANNOTATION,
    READY_TIMEOUT,
    SERVICE_ACCOUNT_ISSUER,
    LocalPlane,
    free_host_subnet,
    running_plane,
)
from plane.pki import SERVICE_CIDR, CertificateAuthority, CertPair, Pki, make_pki
from plane.processes import STOP_TIMEOUT, Component, free_port, pid_alive

__all__ = [
    "ADMISSION_PLUGINS",
    "ALL_CONTROLLERS",
    "AUDITED_GROUP",
    "CONTROLPLANE_DIR",
    "ENV_ASSETS",
    "ENV_EXTERNAL",
    "ENV_KEEP",
    "HOUSEKEEPING_CONTROLLERS",
    "KWOK_NODE_ANNOTATION",
    "NODE_COUNT",
    "READY_TIMEOUT",
    "REPO_ROOT",
    "SERVICE_ACCOUNT_ISSUER",
    "SERVICE_CIDR",
    "STOP_TIMEOUT",
    "VERSIONS_FILE",
    "Binaries",
    "CertPair",
    "CertificateAuthority",
    "Component",
    "ExternalPlane",
    "KubectlError",
    "LocalPlane",
    "Pki",
    "Plane",
    "PlaneError",
    "cache_dir",
    "free_host_subnet",
    "free_port",
    "locate_binaries",
    "make_pki",
    "pid_alive",
    "plane_from_environment",
    "read_versions",
    "running_plane",
    "write_kubeconfig",
]
