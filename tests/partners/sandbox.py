"""One container of a rendered pod spec, run on this machine the way the kubelet and runc run it.

Why: a workload otelwire generates (the chrony DaemonSet) only works if the
very container it spells out works -- its command, its config from a
ConfigMap, its volumes with the kubelet's modes, a read-only root file system,
its user, its capabilities.  There is no container runtime here, but Linux
namespaces as root give the same confinement:

* :func:`container_spec` (pure) reads one container of a pod template and the
  ConfigMaps rendered beside it, and refuses (:class:`Unsupported`) whatever it
  cannot reproduce faithfully, so nothing is silently left out;
* :class:`Network` is a network namespace of its own (a pod's, or a test
  host's) with its loopback up; :meth:`Network.link` joins two with a veth
  pair.  Nothing touches this machine's own interfaces or addresses;
* :class:`Container` starts the container in a new mount namespace inside a
  :class:`Network`: the root file system is this machine's (it has the image's
  packages: scripts/system-deps.sh installs them) under an overlay whose
  writable layer is a private tmpfs, remounted read-only when the spec says
  so; every emptyDir is a directory of mode 0777 (as the kubelet creates it);
  every configMap volume has the kubelet's layout (``..data`` symlinks, files
  0644) and is mounted read-only, as the kubelet always does; then
  ``pivot_root`` and ``setpriv`` set the user, the capability sets (bounding =
  what ``capabilities.add`` keeps after ``drop: [ALL]``; inheritable and
  ambient empty, as containerd sets them) and no_new_privs
  (``allowPrivilegeEscalation: false``), and exec the container's command with
  only its env.  :meth:`Container.exec` enters the same namespaces with the
  same credentials and env, as an exec probe does.

Not reproduced, by design: the seccomp profile (RuntimeDefault), cgroups and
resource limits, a PID namespace, the image's own files (this machine's
Debian stands in for the image's Debian).

Every process runs in its own process group with ``PR_SET_PDEATHSIG``
(``plane.Component``), so nothing outlives the test; the mounts live only in
the container's mount namespace and vanish with it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from plane import Component
from support.waiting import wait_for

# PATH as Debian's images set it (and as Docker/containerd default it): the probe's `chronyc` is found here.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOOLS = ("unshare", "nsenter", "setpriv", "pivot_root", "mount", "umount", "ip", "sh", "env")
EMPTYDIR_MODE = 0o777  # the kubelet's, for every emptyDir
CONFIGMAP_MODE = 0o644  # configMap defaultMode


class Unsupported(ValueError):
    """The pod spec asks for something this sandbox cannot reproduce faithfully."""


@dataclass(frozen=True)
class Volume:
    path: str  # mountPath in the container
    kind: str  # emptyDir | configMap
    read_only: bool
    files: Mapping[str, str]  # configMap data


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    uid: int
    gid: int
    capabilities: tuple[str, ...]  # what remains after drop: [ALL], e.g. ("SYS_TIME",)
    no_new_privs: bool
    read_only_root: bool
    volumes: tuple[Volume, ...]
    readiness: tuple[str, ...]  # the readiness probe's exec command
    readiness_timeout: float


def _refuse(condition: object, what: str) -> None:
    if condition:
        raise Unsupported(what)


def container_spec(objects: Sequence[Mapping[str, Any]], kind: str, container: str) -> ContainerSpec:
    """``container`` of the one ``kind`` among ``objects`` (as ``otelwire render --generated`` prints them)."""
    (workload,) = [o for o in objects if o.get("kind") == kind]
    configmaps = {
        o["metadata"]["name"]: dict(o.get("data") or {})
        for o in objects
        if o.get("kind") == "ConfigMap" and o["metadata"].get("namespace") == workload["metadata"].get("namespace")
    }
    pod = workload["spec"]["template"]["spec"]
    for field in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "initContainers"):
        _refuse(pod.get(field), f"pod {field}")
    pod_security = pod.get("securityContext") or {}
    (spec,) = [c for c in pod["containers"] if c["name"] == container]
    _refuse(not spec.get("command"), "no command: the image's ENTRYPOINT is not known here")
    _refuse(spec.get("workingDir"), "workingDir")
    env: dict[str, str] = {"PATH": IMAGE_PATH}
    for item in spec.get("env") or []:
        _refuse("valueFrom" in item, f"env {item['name']} from valueFrom")
        env[item["name"]] = str(item.get("value", ""))
    _refuse(spec.get("envFrom"), "envFrom")
    security = spec.get("securityContext") or {}
    _refuse(security.get("privileged"), "privileged")
    capabilities = security.get("capabilities") or {}
    _refuse(
        [c.upper() for c in capabilities.get("drop") or []] != ["ALL"],
        "capabilities without drop: [ALL] (the runtime's default set is not modelled)",
    )
    uid = security.get("runAsUser", pod_security.get("runAsUser"))
    if uid is None:
        raise Unsupported("no runAsUser: the image's USER is not known here")
    gid = security.get("runAsGroup", pod_security.get("runAsGroup", 0))
    _refuse(pod_security.get("supplementalGroups") or pod_security.get("fsGroup") is not None, "groups")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounted: list[Volume] = []
    for mount in spec.get("volumeMounts") or []:
        _refuse(mount.get("subPath") or mount.get("subPathExpr"), "subPath")
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            _refuse((volume["emptyDir"] or {}).get("medium"), "emptyDir medium")
            mounted.append(Volume(mount["mountPath"], "emptyDir", bool(mount.get("readOnly")), {}))
        elif "configMap" in volume:
            source = volume["configMap"]
            _refuse(source.get("items") or "defaultMode" in source, "configMap items or defaultMode")
            _refuse(source["name"] not in configmaps, f"configMap {source['name']} is not among the objects")
            # configMap volumes are always mounted read-only (ReadOnlyAPIDataVolumes).
            mounted.append(Volume(mount["mountPath"], "configMap", True, configmaps[source["name"]]))
        else:
            raise Unsupported(f"volume {mount['name']}: {sorted(volume)}")
    probe = (spec.get("readinessProbe") or {}).get("exec") or {}
    return ContainerSpec(
        name=container,
        argv=tuple(spec["command"]) + tuple(spec.get("args") or ()),
        env=env,
        uid=int(uid),
        gid=int(gid),
        capabilities=tuple(c.upper() for c in capabilities.get("add") or ()),
        no_new_privs=security.get("allowPrivilegeEscalation") is False,
        read_only_root=bool(security.get("readOnlyRootFilesystem")),
        volumes=tuple(mounted),
        readiness=tuple(probe.get("command") or ()),
        readiness_timeout=float((spec.get("readinessProbe") or {}).get("timeoutSeconds", 1)),
    )


def credentials(spec: ContainerSpec) -> list[str]:
    """``setpriv`` and ``env`` options that give a process the container's identity and nothing else."""
    caps = ",".join(["-all", *(f"+{c.lower()}" for c in spec.capabilities)])
    argv = [
        "setpriv",
        f"--reuid={spec.uid}",
        f"--regid={spec.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--ambient-caps=-all",
        f"--bounding-set={caps}",
    ]
    if spec.no_new_privs:
        argv.append("--no-new-privs")
    return [*argv, "--", "env", "-i", *(f"{k}={v}" for k, v in spec.env.items())]


def require_tools() -> None:
    """Fail (never skip) when a program the sandbox needs is missing, or when not root."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make system-deps` (scripts/system-deps.sh)", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the container sandbox needs root (mount and network namespaces)", pytrace=False)


def _run(argv: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return result


class Network:
    """A network namespace of its own, loopback up, held open by a sleeping process."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.holder = Component(
            f"netns-{name}",
            ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec sleep infinity"],
            workdir / f"netns-{name}.log",
        )

    def start(self) -> Network:
        self.holder.start()
        wait_for(f"network namespace {self.name}", lambda: "UP" in self.ip("-o", "link", "show", "lo").stdout, 10, 0.1)
        return self

    @property
    def pid(self) -> int:
        return self.holder.pid

    def enter(self) -> list[str]:
        """The argv prefix that runs a command inside this network namespace."""
        return ["nsenter", f"--target={self.pid}", "--net", "--"]

    def ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([*self.enter(), "ip", *args])

    def link(self, other: Network, address: str, other_address: str, *, device: str, other_device: str) -> None:
        """A veth pair between the two namespaces (created inside them, never in this machine's)."""
        self.ip("link", "add", device, "type", "veth", "peer", "name", other_device, "netns", str(other.pid))
        for net, dev, addr in ((self, device, address), (other, other_device, other_address)):
            net.ip("address", "add", addr, "dev", dev)
            net.ip("link", "set", dev, "up")

    def stop(self) -> None:
        self.holder.stop(timeout=5.0)


def _setup_script(spec: ContainerSpec, scratch: Path, sources: Mapping[str, Path], extra_args: Sequence[str]) -> str:
    """The shell that builds the container's file system in a fresh mount namespace, then execs it."""
    root = f"{scratch}/root"
    lines = [
        "set -eu",
        # The writable layer is a private tmpfs: creating mount points never writes to this machine.
        f"mount -n -t tmpfs -o mode=0755 sandbox {shlex.quote(str(scratch))}",
        f"mkdir {scratch}/upper {scratch}/work {root}",
        f"mount -n -t overlay overlay -o lowerdir=/,upperdir={scratch}/upper,workdir={scratch}/work {root}",
        f"mount -n --rbind /proc {root}/proc",
        f"mount -n --rbind /dev {root}/dev",
        f"mount -n --rbind /sys {root}/sys",
    ]
    for volume in spec.volumes:
        target = shlex.quote(root + volume.path)
        lines.append(f"mkdir -p {target}")
        lines.append(f"mount -n --bind {shlex.quote(str(sources[volume.path]))} {target}")
        if volume.read_only:
            lines.append(f"mount -n -o remount,bind,ro {target}")
    lines += [
        f"mkdir {root}/.oldroot",
        f"cd {root}",
        "pivot_root . .oldroot",
        "cd /",
        "umount -n -l /.oldroot",
        "rmdir /.oldroot",
    ]
    if spec.read_only_root:
        lines.append("mount -n -o remount,bind,ro /")
    argv = [spec.argv[0], *extra_args, *spec.argv[1:]]
    lines.append("exec " + shlex.join([*credentials(spec), *argv]))
    return "\n".join(lines) + "\n"


class Container:
    """``spec`` running in its own mount namespace inside ``network``; ``extra_args`` follow the program name."""

    def __init__(self, spec: ContainerSpec, network: Network, workdir: Path, extra_args: Sequence[str] = ()) -> None:
        self.spec = spec
        self.network = network
        self.workdir = workdir
        self.extra_args = tuple(extra_args)
        self.volumes: dict[str, Path] = {}  # mountPath -> the host directory behind it
        self.process: Component | None = None
        self._pid = 0

    def _prepare_volumes(self) -> None:
        for index, volume in enumerate(self.spec.volumes):
            source = self.workdir / f"volume-{index}-{volume.kind}"
            source.mkdir(parents=True)
            if volume.kind == "configMap":
                # The kubelet's atomic writer: files in a timestamped folder, ..data pointing at it,
                # one symlink per key through ..data.
                stamp = source / time.strftime("..%Y_%m_%d_%H_%M_%S.000000001")
                stamp.mkdir()
                stamp.chmod(0o755)
                for key, text in volume.files.items():
                    (stamp / key).write_text(text)
                    (stamp / key).chmod(CONFIGMAP_MODE)
                (source / "..data").symlink_to(stamp.name)
                for key in volume.files:
                    (source / key).symlink_to(f"..data/{key}")
            source.chmod(EMPTYDIR_MODE)  # configMap volumes sit in a wrapped emptyDir too
            self.volumes[volume.path] = source

    def start(self) -> Container:
        self._prepare_volumes()
        scratch = self.workdir / "rootfs"
        scratch.mkdir()
        script = self.workdir / "start.sh"
        script.write_text(_setup_script(self.spec, scratch, self.volumes, self.extra_args))
        self.process = Component(
            f"container-{self.spec.name}",
            [*self.network.enter(), "unshare", "--mount", "--fork", "--kill-child", "--", "sh", str(script)],
            self.workdir / "container.log",
        ).start()
        program = Path(self.spec.argv[0]).name[:15]
        self._pid = wait_for(f"{program} to start in the container", self._running, 20, 0.1, explain=self.log)
        return self

    def _running(self) -> int:
        assert self.process is not None
        if not self.process.running():
            raise AssertionError(f"the container exited:\n{self.log()}")
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{child}/comm").read_text().strip() == Path(self.spec.argv[0]).name[:15]:
                        return int(child)
        return 0

    @property
    def pid(self) -> int:
        return self._pid

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def exec(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """``argv`` in the container's namespaces, as its user with its capabilities and env (an exec probe)."""
        enter = ["nsenter", f"--target={self.pid}", "--mount", "--net", "--"]
        command = [*enter, *credentials(self.spec), *argv]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:  # the kubelet counts a probe that times out as failed
            return subprocess.CompletedProcess(command, 124, "", f"timed out after {timeout:g}s")

    def readiness(self) -> subprocess.CompletedProcess[str]:
        """The readiness probe, exactly as the pod spec spells it."""
        assert self.spec.readiness, "the container has no exec readiness probe"
        return self.exec(self.spec.readiness, self.spec.readiness_timeout)

    def log(self) -> str:
        path = self.workdir / "container.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=5.0)
