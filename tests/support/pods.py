"""A workload's container run the way its pod spec says, on a test host: what a kubelet would do.

No container runtime runs on these machines, so :class:`PodProcess` builds what
one would from a Deployment's pod template and runs the container's process in it:

* the network: a test host (``network.Host``, a network namespace behind the
  plane's bridge), reached by the API server at the host's address;
* the filesystem: a fresh root (tmpfs) with the machine's ``/usr``, ``/etc`` and
  ``/dev`` bound read-only in, the image's content (the installed wheel's venv)
  at its own path, each volume at its ``mountPath`` (Secret and projected volumes
  read-only, ``emptyDir`` as a 0777 tmpfs), the pod's ``/etc/hosts`` (cluster DNS
  names the test resolves to its own hosts), and the whole root read-only when
  ``readOnlyRootFilesystem`` says so;
* the process: the container's command and args, its env (``fieldRef`` values
  from the pod's name and namespace, ``KUBERNETES_SERVICE_*`` as the kubelet
  sets them), its ``runAsUser``/``runAsGroup``, no capabilities, no new privileges.

:class:`Endpoints` plays the kubelet's readiness probe and the EndpointSlice
controller for a Service: a pod is a ready endpoint while its process runs and its
readiness probe answers, and not one from the moment its process dies.
Needs root (namespaces, mounts), as the suite runs on CI.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from support.network import Host

# What a root filesystem gets from this machine, read-only (Debian: /bin, /lib, ... are links into /usr).
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib64", "etc")


@dataclass
class Container:
    """One container of a pod template, with its volumes' contents, ready to run here."""

    argv: list[str]
    env: dict[str, str]
    read_only: dict[str, Path] = field(default_factory=dict)  # mountPath -> host folder with the files
    writable: list[str] = field(default_factory=list)  # emptyDir mountPaths
    user: int = 0
    group: int = 0
    read_only_root: bool = False
    image: Path | None = None  # a host folder the image would hold (bound read-only at the same path)


def container_from_template(
    template: Mapping[str, Any],
    *,
    pod_name: str,
    namespace: str,
    volumes: Mapping[str, Path],
    entrypoint: Sequence[str],
    image_env: Mapping[str, str],
    image: Path | None = None,
    container: str | None = None,
) -> Container:
    """A container of ``template`` (a pod template), its volumes' contents given by volume name.

    ``entrypoint`` and ``image_env`` are the image's ENTRYPOINT and ENV; ``volumes`` holds a
    folder for every volume that is not an emptyDir (what the kubelet would have mounted).
    """
    spec = template["spec"]
    pod_security = spec.get("securityContext") or {}
    chosen = next(c for c in spec["containers"] if container is None or c["name"] == container)
    security = {**pod_security, **(chosen.get("securityContext") or {})}
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    env = dict(image_env)
    env["HOSTNAME"] = pod_name
    for entry in chosen.get("env") or []:
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        else:
            env[entry["name"]] = fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]
    kinds = {v["name"]: v for v in spec.get("volumes") or []}
    read_only: dict[str, Path] = {}
    writable: list[str] = []
    for mount in chosen.get("volumeMounts") or []:
        volume = kinds[mount["name"]]
        if "emptyDir" in volume:
            writable.append(mount["mountPath"])
        else:
            read_only[mount["mountPath"]] = volumes[mount["name"]]
    argv = [*(chosen.get("command") or entrypoint), *(chosen.get("args") or [])]
    return Container(
        argv=argv,
        env=env,
        read_only=read_only,
        writable=writable,
        user=int(security.get("runAsUser", 0)),
        group=int(security.get("runAsGroup", security.get("runAsUser", 0))),
        read_only_root=bool(security.get("readOnlyRootFilesystem")),
        image=image,
    )


def _script(root: Path, container: Container, hosts_file: Path) -> str:
    """The shell that builds the container's root in a private mount namespace and execs its process."""
    q = shlex.quote
    r = q(str(root))
    lines = [
        "set -eu",
        "mount --make-rprivate /",
        f"mount -t tmpfs -o mode=0755 container-root {r}",
    ]
    for name in SYSTEM_DIRS:
        source = Path("/") / name
        if source.is_symlink():
            lines.append(f"ln -s {q(os.readlink(source))} {r}/{name}")
        elif source.is_dir():
            lines.append(f"mkdir {r}/{name} && mount --rbind /{name} {r}/{name} && mount -o remount,bind,ro {r}/{name}")
    lines += [
        f"mount --bind {q(str(hosts_file))} {r}/etc/hosts",
        f"mkdir {r}/dev && mount --rbind /dev {r}/dev",
        f"mkdir {r}/proc && mount -t proc proc {r}/proc",
    ]
    if container.image is not None:
        path = q(str(container.image))
        lines.append(f"mkdir -p {r}{path} && mount --bind {path} {r}{path} && mount -o remount,bind,ro {r}{path}")
    for path, source in sorted(container.read_only.items()):
        lines.append(
            f"mkdir -p {r}{q(path)} && mount --bind {q(str(source))} {r}{q(path)}"
            f" && mount -o remount,bind,ro {r}{q(path)}"
        )
    for path in sorted(container.writable):
        lines.append(f"mkdir -p {r}{q(path)} && mount -t tmpfs -o mode=0777 empty-dir {r}{q(path)}")
    if container.read_only_root:
        lines.append(f"mount -o remount,bind,ro {r}")
    env = [f"{key}={value}" for key, value in sorted(container.env.items())]
    command = [
        "chroot",
        str(root),
        "/usr/bin/setpriv",
        f"--reuid={container.user}",
        f"--regid={container.group}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
        "/usr/bin/env",
        "-i",
        *env,
        *container.argv,
    ]
    lines.append("cd /")
    lines.append("exec " + " ".join(q(part) for part in command))
    return "\n".join(lines) + "\n"


class PodProcess:
    """One pod's container on a test host (see the module); its output goes to ``log_path``."""

    def __init__(
        self, name: str, host: Host, container: Container, workdir: Path, hosts: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.host = host
        self.container = container
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "container.log"
        self.hosts = dict(hosts or {})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PodProcess:
        root = self.workdir / "root"
        root.mkdir(exist_ok=True)
        hosts_file = self.workdir / "hosts"
        entries = ["127.0.0.1 localhost", f"{self.host.address} {self.name}"]
        entries += [f"{address} {name}" for name, address in sorted(self.hosts.items())]
        hosts_file.write_text("\n".join(entries) + "\n")
        hosts_file.chmod(0o644)
        script = _script(root, self.container, hosts_file)
        (self.workdir / "run.sh").write_text(script)
        argv = self.host.command(["unshare", "--mount", "--fork", "--", "/bin/sh", "-c", script])
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Signal the container's whole process group (SIGKILL: the kubelet killing it)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])


class Endpoints:
    """A Service's EndpointSlice for pods run here, kept as a kubelet and the slice controller would.

    ``probe(pod)`` is the pod's readiness probe; a pod whose process has exited is not ready
    at once (the kubelet sees its container die).  ``apply`` writes the slice (``kubectl apply``).
    """

    def __init__(
        self,
        service: str,
        namespace: str,
        port_name: str,
        port: int,
        apply: Callable[[str], object],
        probe: Callable[[PodProcess], bool],
        interval: float = 0.5,
    ) -> None:
        self.service = service
        self.namespace = namespace
        self.port_name = port_name
        self.port = port
        self.apply = apply
        self.probe = probe
        self.interval = interval
        self.pods: list[PodProcess] = []
        self.ready: dict[str, bool] = {}
        self.written: dict[str, bool] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"endpoints-{service}", daemon=True)

    def start(self) -> Endpoints:
        self._thread.start()
        return self

    def add(self, pod: PodProcess) -> None:
        with self._lock:
            self.pods.append(pod)

    def sync(self) -> None:
        """Probe every pod once and write the slice if readiness changed."""
        with self._lock:
            pods = list(self.pods)
        ready = {pod.name: pod.running and self.probe(pod) for pod in pods}
        if ready == self.written:
            return
        endpoints = [
            {"addresses": [str(pod.host.address)], "conditions": {"ready": ready[pod.name]}, "hostname": pod.name}
            for pod in pods
        ]
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{self.service}-test-hosts",
                "namespace": self.namespace,
                "labels": {"kubernetes.io/service-name": self.service},
            },
            "addressType": "IPv4",
            "ports": [{"name": self.port_name, "port": self.port, "protocol": "TCP"}],
            "endpoints": endpoints,
        }
        self.apply(yaml.safe_dump(body))
        self.written = ready
        self.ready = ready

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            with contextlib.suppress(Exception):  # an API hiccup: the next round writes it
                self.sync()

    def wait_ready(self, names: Sequence[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.ready.get(name) for name in names):
                return
            time.sleep(0.2)
        raise AssertionError(f"pods {list(names)} not ready as endpoints of {self.service}: {self.ready}")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


def https_ready(port: int, path: str = "/healthz") -> Callable[[PodProcess], bool]:
    """A readinessProbe ``httpGet`` with ``scheme: HTTPS`` (the kubelet does not verify the certificate)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def probe(pod: PodProcess) -> bool:
        try:
            url = f"https://{pod.host.address}:{port}{path}"
            with urllib.request.urlopen(url, timeout=1, context=context) as response:
                return bool(200 <= response.status < 400)
        except (OSError, urllib.error.URLError):
            return False

    return probe
