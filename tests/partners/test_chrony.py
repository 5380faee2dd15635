"""Clock sync meets real chronyd: the DaemonSet's own container, its readiness probe, Pod Security.

The container is what ``otelwire render --generated`` prints for a
MonitoredService with ``clock.sync: chrony`` -- its command, chrony.conf from
its ConfigMap, its volumes with the kubelet's modes, read-only root, root with
only ``CAP_SYS_TIME`` and no_new_privs -- run by ``sandbox.Container`` with
Debian's chronyd (the version images/chrony/Dockerfile pins, installed by
scripts/system-deps.sh) and ``-x`` added, so this machine's clock is never
touched.  Each "pod" has a network namespace of its own, joined by a veth pair
to a "time host" namespace where reference chronyds serve NTP on addresses of
TEST-NET-1 (192.0.2.0/24) that exist only there:

* ``192.0.2.1``: a reference serving this machine's time (``local stratum 1``);
* ``192.0.2.5``: a reference 0.5 s off.  It runs with ``-x`` as well and syncs to
  an upstream on its loopback through a source with ``offset 0.5`` (chrony's own
  option): believing its clock 0.5 s off, it corrects only its own notion of
  time, which is what it serves.  libfaketime was not used: chronyd takes an NTP
  request's receive timestamp from the kernel (SO_TIMESTAMPNS/SO_TIMESTAMPING;
  ntp_io.c cooks ``timestamp.kernel``), which libfaketime cannot shift, so a
  faked server's receive and transmit timestamps would disagree by the shift;
* ``192.0.2.9``: nothing answers NTP there.

Readiness must pass once in sync, keep failing 0.5 s off (maxSkew 100ms) and
when never in sync -- for the right reason each time, which ``chronyc
tracking`` in the same container shows.  The layout before the fix (the
``run`` emptyDir mounted at ``/run/chrony``) is run too: real chronyd refuses
its 0777 directory, so the sandbox does reproduce the kubelet's modes.

Pod Security is proven on the test plane's real API server: the rendered pod
template is admitted in a namespace labelled as manifests/default labels
otelwire-chrony, and refused at baseline and restricted.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from otelwire.clusterwide import chrony
from otelwire.options import CHRONY_IMAGE, CHRONY_NAMESPACE, OPERATOR_NAMESPACE
from plane import Component, Plane, locate_binaries
from support.rendering import render as render_objects
from support.waiting import wait_for

from partners import ROOT
from partners.sandbox import Container, ContainerSpec, Network, container_spec, require_tools

CHRONYD = shutil.which("chronyd") or "/usr/sbin/chronyd"
MAX_SKEW = "100ms"
SHIFT = 0.5  # seconds the skewed reference is off; > maxSkew, < makestep's 1.0 (so chronyd slews)
NEVER_CLOCK = "-x"  # chronyd: never change this machine's clock

MONITORED_SERVICE = f"""\
apiVersion: otelwire.io/v1alpha1
kind: MonitoredService
metadata: {{name: payments, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: payments}}}}
  clock: {{sync: chrony, maxSkew: {MAX_SKEW}}}
"""


def render(servers: str) -> list[dict[str, Any]]:
    """What ``otelwire render --generated`` prints for a MonitoredService with clock sync."""
    return render_objects([yaml.safe_load(MONITORED_SERVICE)], "--generated", "--chrony-servers", servers).documents


def daemonset(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == "DaemonSet"]
    return found


def chronyd_spec(objects: list[dict[str, Any]]) -> ContainerSpec:
    spec = container_spec(objects, "DaemonSet", "chronyd")
    # What the rest of this module relies on, as rendered: checked, not assumed.
    assert spec.argv == ("chronyd", "-d", "-u", "root", "-f", chrony.CONF_PATH)
    assert (spec.uid, spec.capabilities, spec.no_new_privs, spec.read_only_root) == (0, ("SYS_TIME",), True, True)
    assert spec.env["MAX_SKEW_SECONDS"] == "0.100"
    return spec


def _reference_conf(workdir: Path, *lines: str) -> Path:
    """A reference chronyd's config: its files in ``workdir``, never in this machine's /run."""
    workdir.mkdir(parents=True)
    conf = workdir / "chrony.conf"
    conf.write_text(
        "\n".join(
            [*lines, "cmdport 0", f"bindcmdaddress {workdir}/sock/chronyd.sock", f"pidfile {workdir}/chronyd.pid"]
        )
        + "\n"
    )
    return conf


@dataclass
class Pod:
    container: Container
    started: float

    def tracking(self) -> str:
        """``chronyc tracking`` in the container, as a person would run it with kubectl exec."""
        result = self.container.exec(["chronyc", "-h", chrony.SOCKET, "-n", "tracking"], 10)
        return result.stdout + result.stderr

    def log(self) -> str:
        return self.container.log()


@dataclass
class Lab:
    pods: dict[str, Pod]
    references: dict[str, Component]
    rendered: dict[str, list[dict[str, Any]]]


def _offset(tracking: str) -> float:
    match = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow)", tracking, re.MULTILINE)
    assert match, tracking
    return float(match.group(1))


def _leap(tracking: str) -> str:
    match = re.search(r"^Leap status\s*:\s*(.+)$", tracking, re.MULTILINE)
    assert match, tracking
    return match.group(1).strip()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The time host with its references, and four chrony pods started side by side."""
    require_tools()
    workdir = tmp_path_factory.mktemp("chrony")
    started: list[Network | Component | Container] = []
    try:
        timehost = Network("timehost", workdir).start()
        started.append(timehost)
        references = {
            "true": _reference_conf(
                workdir / "ref-true", "local stratum 1", "allow 192.0.2.0/24", "bindaddress 192.0.2.1"
            ),
            "upstream": _reference_conf(
                workdir / "ref-upstream", "local stratum 1", "allow 127.0.0.1", "bindaddress 127.0.0.1", "port 11123"
            ),
            "skewed": _reference_conf(
                workdir / "ref-skewed",
                f"server 127.0.0.1 port 11123 offset {SHIFT} iburst minpoll -2 maxpoll -2",
                "allow 192.0.2.0/24",
                "bindaddress 192.0.2.5",
            ),
        }
        pods_at = {"synced": ("192.0.2.2/30", "192.0.2.1/30"), "skewed": ("192.0.2.6/30", "192.0.2.5/30")}
        pods_at["unreachable"] = ("192.0.2.10/30", "192.0.2.9/30")
        networks: dict[str, Network] = {}
        for name in (*pods_at, "before-fix"):
            networks[name] = Network(f"pod-{name}", workdir).start()
            started.append(networks[name])
        for index, (name, (pod_address, host_address)) in enumerate(pods_at.items()):
            networks[name].link(timehost, pod_address, host_address, device="eth0", other_device=f"pod{index}")
        running: dict[str, Component] = {}
        for name, conf in references.items():
            running[name] = Component(
                f"chronyd-{name}",
                [*timehost.enter(), CHRONYD, NEVER_CLOCK, "-d", "-u", "root", "-f", str(conf)],
                workdir / f"ref-{name}" / "chronyd.log",
            ).start()
            started.append(running[name])
        # The skewed reference serves only once it has synced (with its offset) to the upstream;
        # a pod asking earlier would see an unsynchronised server and wait 64 s for its next poll.
        wait_for(
            "the skewed reference to sync to its upstream",
            lambda: "Selected source 127.0.0.1" in running["skewed"].log_path.read_text(),
            30,
            explain=lambda: running["skewed"].log_tail(),
        )
        servers = {"synced": "192.0.2.1", "skewed": "192.0.2.5", "unreachable": "192.0.2.9", "before-fix": "127.0.0.1"}
        rendered = {name: render(server) for name, server in servers.items()}
        pods: dict[str, Pod] = {}
        for name in servers:
            objects = rendered[name]
            if name == "before-fix":
                objects = copy.deepcopy(objects)
                # The layout before the fix: the `run` emptyDir (0777) is chronyd's socket directory itself.
                for mount in daemonset(objects)["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]:
                    if mount["name"] == "run":
                        mount["mountPath"] = "/run/chrony"
            container = Container(chronyd_spec(objects), networks[name], workdir / f"pod-{name}", [NEVER_CLOCK])
            pods[name] = Pod(container.start(), time.monotonic())
            started.append(container)
        yield Lab(pods, running, rendered)
    finally:
        for item in reversed(started):
            item.stop()


def test_the_daemonset_container_is_ready_once_in_sync(lab: Lab) -> None:
    pod = lab.pods["synced"]
    server = "server 192.0.2.1 iburst"
    assert server in lab.rendered["synced"][0]["data"]["chrony.conf"]

    def ready() -> bool:
        return pod.container.readiness().returncode == 0

    wait_for("the readiness probe to pass", ready, 40, explain=lambda: pod.log() + pod.tracking())
    tracking = pod.tracking()
    assert _leap(tracking) == "Normal" and _offset(tracking) < 0.1, tracking
    log = pod.log()
    assert "Selected source 192.0.2.1" in log
    assert "Wrong permissions" not in log and "Disabled command socket" not in log, log
    # chronyd made its socket directory itself, inside the 0777 emptyDir, closed to others.
    run = pod.container.volumes["/run"]
    assert oct(run.stat().st_mode & 0o777) == oct(0o777)
    made = (run / "chrony").stat()
    assert (made.st_uid, made.st_mode & 0o007) == (0, 0), oct(made.st_mode)
    assert (run / "chrony" / "chronyd.sock").is_socket()


def test_readiness_keeps_failing_when_the_node_is_off_by_more_than_max_skew(lab: Lab) -> None:
    pod = lab.pods["skewed"]
    wait_for(
        "the pod to take the skewed reference",
        lambda: "Selected source 192.0.2.5" in pod.log(),
        40,
        explain=lambda: pod.log() + pod.tracking(),
    )
    for _ in range(3):
        probe = pod.container.readiness()
        assert probe.returncode != 0, (probe, pod.tracking())
        tracking = pod.tracking()
        # Not ready for the right reason: in sync with its source, half a second off.
        assert _leap(tracking) == "Normal", tracking
        assert abs(_offset(tracking) - SHIFT) < 0.05, tracking
        time.sleep(1)


def test_readiness_keeps_failing_when_chrony_never_syncs(lab: Lab) -> None:
    pod = lab.pods["unreachable"]
    # iburst sends 4 requests 2 s apart: after 10 s chronyd has given up its quick start.
    time.sleep(max(0.0, pod.started + 10 - time.monotonic()))
    for _ in range(3):
        probe = pod.container.readiness()
        assert probe.returncode != 0, probe
        tracking = pod.tracking()
        assert _leap(tracking) == "Not synchronised", tracking
        time.sleep(1)
    assert "Selected source" not in pod.log()


def test_the_layout_before_the_fix_fails_as_real_clusters_showed(lab: Lab) -> None:
    """The sandbox reproduces the kubelet's 0777 emptyDir: chronyd refuses it, as in issue 22."""
    pod = lab.pods["before-fix"]
    wait_for(
        "chronyd to judge its socket directory", lambda: "Disabled command socket" in pod.log(), 10, explain=pod.log
    )
    log = pod.log()
    assert "Wrong permissions on /run/chrony" in log
    assert "Disabled command socket /run/chrony/chronyd.sock" in log
    assert pod.container.readiness().returncode != 0
    assert "Could not open connection to daemon" in pod.tracking()
    # The probe before the fix asked without -h: chronyc then tries UDP, which `cmdport 0` closes.
    before = pod.container.exec(["chronyc", "-n", "tracking"], 10)
    assert "506 Cannot talk to daemon" in before.stdout + before.stderr, before


def test_the_image_pins_the_chrony_this_suite_runs() -> None:
    dockerfile = (ROOT / "images" / "chrony" / "Dockerfile").read_text()
    (pinned,) = re.findall(r"\bchrony=(\S+)", dockerfile)
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "chrony"], capture_output=True, text=True, check=True
    ).stdout
    assert pinned == installed, f"images/chrony/Dockerfile pins {pinned}; the suite runs {installed}"
    version = subprocess.run([CHRONYD, "-v"], capture_output=True, text=True, check=True).stdout
    assert pinned.split("-")[0] in version
    assert f":{pinned.split('-')[0]}-" in CHRONY_IMAGE, "the default image's tag names another chrony"


def _install_namespaces() -> dict[str, dict[str, str]]:
    """The namespaces manifests/default creates, with their labels (rendered by the real kubectl)."""
    kubectl = locate_binaries().kubectl
    out = subprocess.run(
        [str(kubectl), "kustomize", str(ROOT / "manifests" / "default")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return {
        d["metadata"]["name"]: dict(d["metadata"].get("labels") or {})
        for d in yaml.safe_load_all(out.stdout)
        if d and d["kind"] == "Namespace"
    }


@pytest.mark.parametrize(
    ("like", "level", "admitted", "refusal"),
    [
        pytest.param(CHRONY_NAMESPACE, None, True, "", id="as-installed-otelwire-chrony"),
        pytest.param(CHRONY_NAMESPACE, "baseline", False, 'violates PodSecurity "baseline:latest"', id="baseline"),
        pytest.param(
            OPERATOR_NAMESPACE,
            None,
            False,
            'violates PodSecurity "restricted:latest"',
            id="as-installed-otelwire-system",
        ),
    ],
)
def test_pod_security_admits_the_chrony_pod_only_at_privileged(
    plane: Plane, tmp_path: Path, like: str, level: str | None, admitted: bool, refusal: str
) -> None:
    labels = _install_namespaces()[like]
    if level is not None:
        labels["pod-security.kubernetes.io/enforce"] = level
    namespace = plane.create_namespace(f"psa-{like}-{level or 'installed'}", labels=labels)
    template = daemonset(render("192.0.2.1"))["spec"]["template"]
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {**template["metadata"], "name": "chronyd"}}
    pod["metadata"]["namespace"] = namespace
    pod["spec"] = template["spec"]
    result = plane.kubectl(
        "create", "--dry-run=server", "-o", "name", "-f", "-", input=yaml.safe_dump(pod), check=False
    )
    if admitted:
        assert result.returncode == 0, result.stderr
        assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    else:
        assert result.returncode != 0, result.stdout
        assert refusal in result.stderr and '"SYS_TIME"' in result.stderr, result.stderr
