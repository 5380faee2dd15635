"""The install a user runs, as shipped, on a fresh cluster: in order, one module, nothing mocked.

1. The README's install lines, as written, each on the first try, with real
   cert-manager issuing the webhook's certificate and filling its caBundle.
2. The operator as its Deployment runs it: the image's content (the wheel), the
   Deployment's args and env, the Secret's files at its mount path, a TokenRequest
   token where the projected volume puts it, ``KUBERNETES_SERVICE_HOST/PORT``,
   uid 65532, read-only root -- on test hosts (network namespaces) the API server
   reaches through the shipped Service's EndpointSlice.  Pods are injected through
   that path, the two replicas peer, and killing one loses no admission.
3. The shipped RBAC, judged by the API server's audit log while every feature runs:
   nothing the operator asks is refused, and every rule granted is used.
4. The README's uninstall lines leave no otelwire object, finalizer or webhook in
   any resource type; then a server-side install on the cleaned cluster works the
   first time too.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from partners import files
from plane import LocalPlane
from reconcile.harness import condition, deployment, env_of, monitored_service, msvc, pods, wait_for

from install import readme
from install.conftest import SYSTEM, Installation

ROOT = Path(__file__).resolve().parents[2]
CHRONY = "otelwire-chrony"
ACCOUNT = f"system:serviceaccount:{SYSTEM}:otelwire"


def _run(plane: LocalPlane, line: readme.Line) -> None:
    result = plane.kubectl(*line.argv, check=False, timeout=300)
    assert result.returncode == 0, f"`{line.text}` failed on the first try:\n{result.stderr}{result.stdout}"


def _secret_ready(plane: LocalPlane) -> bool:
    found = plane.kubectl("get", "secret", "otelwire-webhook-tls", "-n", SYSTEM, "-o", "json", check=False)
    return found.returncode == 0 and "tls.crt" in (json.loads(found.stdout).get("data") or {})


def _ca_bundle(plane: LocalPlane) -> str:
    found = plane.kubectl_json("get", "mutatingwebhookconfiguration", "otelwire")
    return str(found["webhooks"][0]["clientConfig"].get("caBundle") or "")


def install_prometheus_operator_crds(plane: LocalPlane) -> None:
    """The cluster runs the Prometheus Operator (its CRDs, from its Go module): otelwire makes PodMonitors."""
    crds = sorted(files("promop").rglob("*.yaml"))
    for crd in crds:
        plane.kubectl("apply", "--server-side", "-f", str(crd))
    names = [yaml.safe_load(crd.read_text())["metadata"]["name"] for crd in crds]
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in names))


# ---------------------------------------------------------------- 1. the README's install lines


def test_the_readme_install_lines_work_the_first_time(installation: Installation) -> None:
    plane = installation.plane
    install_prometheus_operator_crds(plane)
    lines = [line for line in readme.lines() if line.section == "install"]
    unknown = [
        line.text for line in lines if not line.text.startswith("kubectl ") and line.text not in readme.ELSEWHERE
    ]
    assert not unknown, f"README install lines the test cannot run: {unknown}"
    for line in lines:
        if line.text in readme.ELSEWHERE:
            if line.text.endswith(readme.CERT_MANAGER_URL):
                installation.start_cert_manager()
            continue
        _run(plane, line)
        installation.ran.append(line.text)
        if line.argv == ["apply", "-k", "manifests/default"]:
            # What a cluster does next: cert-manager issues the certificate, cainjector fills the
            # webhook's caBundle, the kubelet starts the operator's pods with the Secret mounted.
            wait_for("cert-manager to fill otelwire-webhook-tls", lambda: _secret_ready(plane), 120)
            wait_for("cainjector to fill the webhook's caBundle", lambda: _ca_bundle(plane), 120)
            installation.start_operator_pods()
    assert "kubectl apply -k manifests/default" in installation.ran
    assert condition(msvc(plane, "shop", "order-service"), "Ready")["status"] == "True"


def test_cert_manager_issued_the_webhook_certificate_and_its_ca_is_the_webhooks(installation: Installation) -> None:
    plane = installation.plane
    for kind, name in (("issuer", "otelwire-selfsigned"), ("certificate", "otelwire-webhook")):
        found = plane.kubectl_json("get", kind, name, "-n", SYSTEM)
        assert condition(found, "Ready")["status"] == "True", found.get("status")
    folder = installation.secret_folder("otelwire-webhook-tls")
    cert = x509.load_pem_x509_certificate((folder / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "otelwire-webhook.otelwire-system.svc" in names
    ca = (folder / "ca.crt").read_bytes()
    assert base64.b64decode(_ca_bundle(plane)) == ca  # first issuance: the bundle is this CA alone


# ---------------------------------------------------------------- 2. the operator as its Deployment runs it


def _metrics(installation: Installation, index: int) -> str:
    url = f"http://{installation.pods[index].host.address}:8080/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _injected(pod: dict[str, Any]) -> bool:
    env = env_of(pod["spec"]["containers"][0])
    return "OTEL_SERVICE_NAME" in env and "otelwire.io/injected" in (pod["metadata"].get("annotations") or {})


def test_pods_are_injected_through_the_shipped_service(installation: Installation) -> None:
    plane = installation.plane
    ns = plane.create_namespace("through-the-service")
    plane.apply(monitored_service("orders", ns, installation.collector.endpoint))
    wait_for(
        "the operator to see orders", lambda: (msvc(plane, ns, "orders").get("status") or {}).get("conditions"), 60
    )
    plane.apply(deployment("orders", ns, replicas=2))
    plane.kubectl("rollout", "status", "deployment/orders", "-n", ns, "--timeout=120s")
    running = pods(plane, ns, "app=orders")
    assert len(running) == 2 and all(_injected(p) for p in running), installation.logs()
    plane.kubectl("wait", "--for=condition=Ready", "msvc/orders", "-n", ns, "--timeout=120s")
    # Only the shipped configuration, reached through its Service: nothing registered a URL webhook.
    configs = plane.kubectl_json("get", "mutatingwebhookconfigurations")["items"]
    assert [c["metadata"]["name"] for c in configs] == ["otelwire"]
    admitted = sum(
        float(line.rsplit(" ", 1)[1])
        for index in range(len(installation.pods))
        for line in _metrics(installation, index).splitlines()
        if line.startswith('otelwire_admissions_total{result="injected"}')
    )
    assert admitted >= 2


def _peers(plane: LocalPlane) -> dict[str, Any]:
    found = plane.kubectl_json("get", "clusterkopfpeering", "otelwire")
    return dict(found.get("status") or {})


class PodStream:
    """Pods created one after another while something happens, with when each was created."""

    def __init__(self, plane: LocalPlane, namespace: str, interval: float = 0.4) -> None:
        self.plane = plane
        self.namespace = namespace
        self.interval = interval
        self.created: list[tuple[float, dict[str, Any]]] = []
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PodStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(30)

    def _run(self) -> None:
        index = 0
        while not self._stopping.is_set():
            index += 1
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"stream-{index}", "namespace": self.namespace, "labels": {"app": "stream"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            }
            started = time.monotonic()
            result = self.plane.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(body), check=False)
            if result.returncode == 0:
                self.created.append((started, json.loads(result.stdout)))
            else:
                self.errors.append(result.stderr)
            self._stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))


def test_two_replicas_peer_and_killing_one_loses_no_admission(installation: Installation) -> None:
    plane = installation.plane
    endpoints = installation.endpoints
    assert endpoints is not None
    wait_for("both replicas in the peering object", lambda: len(_peers(plane)) == 2, 60, explain=installation.logs)
    assert set(_peers(plane)) == {pod.name for pod in installation.pods}  # POD_ID names them
    ns = plane.create_namespace("sigkill")
    plane.apply(monitored_service("stream", ns, installation.collector.endpoint))
    wait_for("stream reconciled", lambda: (msvc(plane, ns, "stream").get("status") or {}).get("conditions"), 60)
    # kopf pauses every replica but the one of the highest priority (each picks one at random).
    peers = _peers(plane)
    leader = max(peers, key=lambda name: int(peers[name]["priority"]))
    active = [pod for pod in installation.pods if pod.name == leader]
    stream = PodStream(plane, ns).start()
    try:
        wait_for("pods admitted by both replicas", lambda: len(stream.created) >= 5, 60)
        victim = active[0]  # the reconciling one: the standby must take over as well
        killed = time.monotonic()
        victim.stop(signal.SIGKILL)
        # The kubelet sees its container die and the pod leaves the Service's ready endpoints.
        wait_for("the killed pod out of the endpoints", lambda: endpoints.ready.get(victim.name) is False, 30)
        out = time.monotonic()
        plane.apply(monitored_service("late", ns, installation.collector.endpoint))
        wait_for(
            "the surviving replica to reconcile a service created after the kill",
            lambda: (msvc(plane, ns, "late").get("status") or {}).get("observedGeneration") == 1,
            120,
            explain=installation.logs,
        )
        time.sleep(3)
    finally:
        stream.stop()
    raced = [p["metadata"]["name"] for at, p in stream.created if killed <= at <= out and not _injected(p)]
    missed = [p["metadata"]["name"] for at, p in stream.created if not (killed <= at <= out) and not _injected(p)]
    summary = f"{len(stream.created)} pods; the kill took the endpoint out in {out - killed:.2f}s; raced {raced}"
    print(summary)
    assert not stream.errors, stream.errors
    assert len(stream.created) >= 10, summary
    # Every pod the API server sent to a live replica got the plan: the survivor (the standby
    # until then) answers from its own mirror, never "unmatched".
    assert not missed, f"pods admitted without otelwire's env: {missed}; {summary}\n{installation.logs()}"
    # A pod created in the moment between the kill and the kubelet reporting it can be sent to
    # the dead replica: the API server does not retry a refused connection, and failurePolicy
    # Ignore admits the pod as it is. Nothing is lost silently: status names each such pod.
    if raced:

        def reported() -> bool:
            status = msvc(plane, ns, "stream").get("status") or {}
            injected = condition({"status": status}, "Injected")
            return status.get("workloads", {}).get("missing") == len(raced) and all(
                name in injected.get("message", "") for name in raced[:5]
            )

        wait_for("the raced pods reported as not injected", reported, 60)


# ---------------------------------------------------------------- 3. RBAC: enough, and nothing more


def _exercise_every_feature(installation: Installation) -> None:
    """Patch mode (all three kinds), restarts, Istio's namespace labels, clock sync, aliases,
    PodMonitors, dashboards, events -- each on and off again, so every verb is asked for."""
    plane = installation.plane
    endpoint = installation.collector.endpoint
    ns = plane.create_namespace("features", labels={"istio-injection": "enabled"})
    labels = {"app": "inventory"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example/inventory:1"}]},
    }
    workloads = [
        {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": f"inventory-{kind.lower()}", "namespace": ns},
            "spec": {"selector": {"matchLabels": labels}, "template": template, **extra},
        }
        for kind, extra in (
            ("Deployment", {"replicas": 1}),
            ("StatefulSet", {"replicas": 1, "serviceName": "inventory"}),
            ("DaemonSet", {}),
        )
    ]
    plane.apply(workloads)
    # A quota that admits no pod in the chrony namespace, as some clusters have: ClockSynced must say so.
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-pods", "namespace": CHRONY},
        "spec": {"hard": {"pods": "0"}},
    }
    plane.apply(quota)
    # Quota admission sees a new quota only once its quota cache has it (until then, pods are
    # admitted): wait until a server-side dry run of a pod is refused, as on a cluster where the
    # quota was there before the DaemonSet.
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "quota-probe", "namespace": CHRONY},
        "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
    }

    def quota_enforced() -> bool:
        result = plane.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False)
        return result.returncode != 0 and "exceeded quota" in result.stderr

    wait_for("the quota to refuse pods in the chrony namespace", quota_enforced, 60)
    patch_mode = monitored_service("inventory", ns, endpoint, injection={"mode": "patch"}, aliases=["Inventory"])
    patch_mode["spec"]["selector"] = {"matchLabels": labels}
    patch_mode["spec"]["dashboard"] = True
    patch_mode["spec"]["metrics"] = {"exporter": "prometheus"}
    patch_mode["spec"]["clock"] = {"sync": "chrony"}
    plane.apply(patch_mode)

    def template_annotations(workload: dict[str, Any]) -> dict[str, str]:
        found = plane.kubectl_json("get", workload["kind"].lower(), workload["metadata"]["name"], "-n", ns)
        return dict(found["spec"]["template"]["metadata"].get("annotations") or {})

    def templated() -> bool:
        return all("otelwire.io/injected" in template_annotations(w) for w in workloads)

    wait_for("patch mode on a Deployment, a StatefulSet and a DaemonSet", templated, 120, explain=installation.logs)
    wait_for(
        "the PodMonitor",
        lambda: plane.kubectl("get", "podmonitor", "otelwire-inventory", "-n", ns, check=False).returncode == 0,
        60,
    )
    wait_for(
        "the dashboard",
        lambda: (
            plane.kubectl("get", "configmap", "otelwire-dashboard-inventory", "-n", ns, check=False).returncode == 0
        ),
        60,
    )
    wait_for(
        "the chrony DaemonSet",
        lambda: plane.kubectl("get", "daemonset", "otelwire-chrony", "-n", CHRONY, check=False).returncode == 0,
        60,
    )
    clock_synced: list[dict[str, Any]] = []

    def pods_not_created() -> bool:
        clock_synced.append(condition(msvc(plane, ns, "inventory"), "ClockSynced"))
        return clock_synced[-1].get("reason") == "PodsNotCreated"

    wait_for(
        "ClockSynced=False PodsNotCreated (the quota admits no chrony pod)",
        pods_not_created,
        90,
        explain=lambda: (
            f"ClockSynced: {clock_synced[-1:]}\n"
            + plane.kubectl("get", "daemonset,events", "-n", CHRONY, "-o", "wide", check=False).stdout
            + installation.logs()
        ),
    )
    wait_for(
        "the alias rules",
        lambda: (
            plane.kubectl("get", "configmap", "otelwire-collector-rules", "-n", SYSTEM, check=False).returncode == 0
        ),
        60,
    )
    # Everything off again: webhook mode gives back what patch mode applied, and the companions go.
    off = {
        "spec": {
            "injection": {"mode": "webhook", "restartOutdated": True},
            "dashboard": False,
            "metrics": {"exporter": "otlp"},
            "clock": {"sync": "none"},
            "aliases": [],
        }
    }
    plane.kubectl("patch", "msvc", "inventory", "-n", ns, "--type=merge", "-p", json.dumps(off))

    def released() -> bool:
        found = [plane.kubectl_json("get", w["kind"].lower(), w["metadata"]["name"], "-n", ns) for w in workloads]
        gone = all(
            plane.kubectl("get", *what, check=False).returncode != 0
            for what in (
                ("podmonitor", "otelwire-inventory", "-n", ns),
                ("configmap", "otelwire-dashboard-inventory", "-n", ns),
                ("daemonset", "otelwire-chrony", "-n", CHRONY),
            )
        )
        return gone and all(
            "otelwire.io/injected" not in (w["spec"]["template"]["metadata"].get("annotations") or {}) for w in found
        )

    wait_for("patch mode released and the companions gone", released, 120, explain=installation.logs)

    # restartOutdated: pods made under patch mode that their workload does not replace at once (a
    # DaemonSet rolls one node at a time) carry an outdated plan, so the operator rolls them.
    def restarted() -> bool:
        return any("kubectl.kubernetes.io/restartedAt" in template_annotations(w) for w in workloads)

    wait_for("a rollout restart of an outdated workload", restarted, 120, explain=installation.logs)


def _audited(installation: Installation) -> list[dict[str, Any]]:
    since = installation.started
    out = []
    for raw in installation.plane.audit_log.read_text().splitlines():
        event = json.loads(raw)
        if event.get("user", {}).get("username") != ACCOUNT:
            continue
        stamp = event.get("requestReceivedTimestamp", "")
        when = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone if stamp else 0.0
        if when + 1 >= since:
            out.append(event)
    return out


def _granted(installation: Installation) -> set[tuple[str, str, str, str]]:
    """(namespace or "*", apiGroup, resource, verb) for every rule bound to the operator's account."""
    plane = installation.plane
    out: set[tuple[str, str, str, str]] = set()
    bindings: list[tuple[str, dict[str, Any]]] = [
        ("*", b) for b in plane.kubectl_json("get", "clusterrolebindings")["items"]
    ]
    bindings += [(b["metadata"]["namespace"], b) for b in plane.kubectl_json("get", "rolebindings", "-A")["items"]]
    for scope, binding in bindings:
        subjects = binding.get("subjects") or []
        if not any(
            s.get("kind") == "ServiceAccount" and s.get("name") == "otelwire" and s.get("namespace") == SYSTEM
            for s in subjects
        ):
            continue
        ref = binding["roleRef"]
        if ref["kind"] == "ClusterRole":
            role = plane.kubectl_json("get", "clusterrole", ref["name"])
        else:
            role = plane.kubectl_json("get", "role", ref["name"], "-n", scope)
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    for verb in rule.get("verbs") or []:
                        out.add((scope, group, resource, verb))
    return out


def test_the_shipped_rbac_is_enough_for_every_feature_and_grants_nothing_unused(installation: Installation) -> None:
    _exercise_every_feature(installation)
    events = _audited(installation)
    assert events, "the audit log recorded nothing of the operator's account"
    refused = sorted(
        {
            f"{e['verb']} {e.get('objectRef', {}).get('apiGroup', '')}/{e.get('objectRef', {}).get('resource')}"
            f" in {e.get('objectRef', {}).get('namespace', '*')}: {e.get('responseStatus', {}).get('message', '')[:200]}"
            for e in events
            if e.get("responseStatus", {}).get("code") == 403
        }
    )
    assert not refused, "the shipped RBAC refused the operator:\n" + "\n".join(refused)
    used: set[tuple[str, str, str, str]] = set()
    for event in events:
        ref = event.get("objectRef")
        if not ref or not ref.get("resource"):
            continue  # discovery and other non-resource requests
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        namespace = ref.get("namespace") or "*"
        verbs = {event["verb"]}
        if event["verb"] == "patch" and event.get("responseStatus", {}).get("code") == 201:
            verbs.add("create")  # a server-side apply that created the object needs create as well
        for verb in verbs:
            used.add((namespace, ref.get("apiGroup", ""), resource, verb))
    unused = sorted(
        rule
        for rule in _granted(installation)
        if not any(
            (rule[0] == "*" or rule[0] == ns) and (group, resource, verb) == rule[1:]
            for ns, group, resource, verb in used
        )
    )
    assert not unused, (
        "granted but never used while every feature ran:\n"
        + "\n".join(map(str, unused))
        + ("\nused:\n" + "\n".join(map(str, sorted(used))))
    )


# ---------------------------------------------------------------- 4. uninstall, and a server-side install after it


def _otelwire_leftovers(plane: LocalPlane) -> list[str]:
    """Every object of every listable type that is otelwire's, or carries its finalizer."""
    types = plane.kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    found: list[str] = []
    for kind in types:
        if kind in ("events", "events.events.k8s.io"):
            continue  # records of what happened, not objects of otelwire's; they expire
        listed = plane.kubectl("get", kind, "-A", "-o", "json", check=False)
        if listed.returncode != 0:
            continue
        for item in json.loads(listed.stdout).get("items") or []:
            meta = item.get("metadata") or {}
            labels = meta.get("labels") or {}
            name = str(meta.get("name", ""))
            where = f"{kind} {meta.get('namespace', '')}/{name}"
            if any("otelwire" in f or "kopf" in f for f in meta.get("finalizers") or []):
                found.append(f"{where}: finalizers {meta['finalizers']}")
            if kind.split(".")[0] in ("pods", "replicasets"):
                continue  # the user's pods (and their old ReplicaSets) keep what they were admitted with
            if kind.split(".")[0].startswith("validatingadmissionpolic") and name.startswith("otelwire-test-plane"):
                continue  # the test plane's own guard (tests/plane/local.py)
            ours = (
                name.startswith("otelwire")
                or name.endswith((".otelwire.io", ".kopf.dev"))
                or labels.get("app.kubernetes.io/managed-by") == "otelwire"
                or labels.get("app.kubernetes.io/part-of") == "otelwire"
                or labels.get("app.kubernetes.io/name") == "otelwire"
                or str(item.get("apiVersion", "")).startswith(("otelwire.io/", "kopf.dev/"))
            )
            annotations = ((item.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
            if ours or any(key.startswith("otelwire.io/") for key in annotations):
                found.append(where)
    return found


def _uninstall(installation: Installation) -> None:
    plane = installation.plane
    for line in (line for line in readme.lines() if line.section == "uninstall"):
        _run(plane, line)
        if line.argv[:2] == ["delete", "-k"]:
            for pod in installation.pods:  # their Deployment is gone: the kubelet stops them
                pod.stop()
    wait_for(
        "otelwire's namespaces to go",
        lambda: all(plane.kubectl("get", "namespace", ns, check=False).returncode != 0 for ns in (SYSTEM, CHRONY)),
        180,
    )


def test_uninstall_as_documented_leaves_nothing(installation: Installation) -> None:
    plane = installation.plane
    upgrade = [line for line in readme.lines() if line.section == "upgrade"]
    for line in upgrade:  # the upgrade lines, on the installed cluster: nothing to change, no error
        _run(plane, line)
    _uninstall(installation)
    # The garbage collector removes what MonitoredServices owned (PodMonitors, dashboards) a moment later.
    wait_for(
        "nothing of otelwire left",
        lambda: not _otelwire_leftovers(plane),
        120,
        explain=lambda: _otelwire_leftovers(plane),
    )


def test_a_server_side_install_works_the_first_time_too(installation: Installation) -> None:
    plane = installation.plane
    result = plane.kubectl("apply", "--server-side", "-k", "manifests/default", check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    wait_for("cert-manager to fill otelwire-webhook-tls", lambda: _secret_ready(plane), 120)
    result = plane.kubectl("delete", "-k", "manifests/default", check=False, timeout=300)
    assert result.returncode == 0, result.stderr
