"""Operator start-up and shutdown: kopf settings, shared state, the webhook.

kopf's own state (handler progress, the diff base) goes to the
MonitoredService's ``status.kopf``, never into annotations -- not on our
resources, and never on workloads that GitOps tools own.  Outside a cluster
the webhook serves on 127.0.0.1 with a self-signed certificate and registers
its own URL-based MutatingWebhookConfiguration, which it deletes on exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import kopf
import prometheus_client

from otelwire import metrics
from otelwire.handlers import connection, pods, services
from otelwire.handlers.clusterwide import Clusterwide
from otelwire.handlers.companions import Companions
from otelwire.handlers.kube import MANAGER, Kube, KubeError, connector
from otelwire.handlers.mirroring import Lookup, Mirror
from otelwire.handlers.podwatching import PodWatch
from otelwire.handlers.probing import Prober
from otelwire.handlers.reassessing import SETTLE, Reassessor
from otelwire.handlers.runtime import (
    DIFFBASE_FIELD,
    IndexReadiness,
    Landings,
    ReadyBook,
    ReconcileLocks,
    RestartBook,
    Selections,
    service_key,
    snapshot,
    watched_namespaces,
)
from otelwire.options import Options
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService
from otelwire.webhook import certificates, registering, serving
from otelwire.webhook.reviewing import Reviewer

logger = logging.getLogger(__name__)
CONFIG_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class SharedMemo(kopf.Memo):
    """The operator's memo, one object for every resource kopf sees.

    kopf gives each object it watches -- each pod too -- a shallow copy of the
    operator's memo, so that handlers can keep per-object state in it.
    otelwire keeps none there (per-object state is keyed by object in the
    books in ``runtime``), and the copy of its ~15 entries cost ~0.7 KB per
    watched object: 7 MB at 10,000 pods.  ``otelwire run`` passes this memo
    to kopf; its copy is itself.  Only the start-up handler sets attributes.
    """

    def __copy__(self) -> SharedMemo:
        return self


def in_cluster() -> bool:
    return connection.in_cluster() is not None


@kopf.on.startup()
async def configure(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    options = Options.from_env()
    apply_settings(settings, options)
    memo.options = options
    memo.prober = Prober(options.probe_timeout, options.probe_ttl)
    memo.restarts = RestartBook()
    memo.readiness = ReadyBook()
    memo.locks = ReconcileLocks()
    memo.landings = Landings()
    memo.selections = Selections()
    memo.index_ready = IndexReadiness()
    # Re-assessments woken by pods get their own threads: in kopf's pool they waited behind
    # creation handlers blocked on a busy API server (Ready lagged the pods by 20 s at 1,000).
    memo.executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="reassess")
    memo.webhook = None
    memo.reviewer = None
    memo.registered = None
    memo.mirror = None
    if options.metrics_port:
        prometheus_client.start_http_server(options.metrics_port, registry=metrics.REGISTRY)
    # The webhook serves first: a review needs only kopf's index, which it waits for anyway,
    # and a kubeconfig with an auth plugin imports the ``kubernetes`` client (about 0.4 s).
    peered = not settings.peering.standalone
    cert = await _serve_webhook(memo, options, kwargs["msvc_index"], peered=peered) if options.webhook_enabled else None
    # Credentials found once; each of the reconciles' client, the pod watch and the mirror keeps
    # its own connections (a watch holds one for minutes).
    memo.transport = await asyncio.to_thread(connector, os.environ.get("KUBECONFIG") or None)
    memo.kube = Kube(await asyncio.to_thread(memo.transport))
    if not settings.peering.standalone:
        served, patterns = watched_namespaces()
        if patterns:
            logger.warning("namespace patterns: create the KopfPeering %s in each namespace", settings.peering.name)
        else:
            await asyncio.to_thread(ensure_peering, memo.kube, settings.peering.name, served)
    memo.clusterwide = Clusterwide(memo.kube, options)
    memo.companions = Companions(memo.kube)
    if memo.reviewer is not None:  # the webhook plans for one scrape path per pod from the start
        try:
            memo.reviewer.podmonitors = await asyncio.to_thread(memo.companions.podmonitors_available)
        except KubeError as error:
            logger.warning("could not discover the Prometheus Operator's API: %s", error)
    memo.reassessor = Reassessor(
        services.reassessment(memo, kwargs),
        memo.executor,
        interval=options.reassess_interval,
        settle=SETTLE,
        retry_delay=lambda error: getattr(error, "delay", None) or 5.0,
        ready=lambda body: not memo.landings.awaited(service_key(body), body),
    ).start()
    namespaces, patterns = watched_namespaces()
    memo.pods = PodWatch(
        await asyncio.to_thread(memo.transport),
        () if patterns else namespaces,  # patterns: kopf resolves them; every pod is watched
        loop=asyncio.get_running_loop(),
        notify=lambda changed: pods.wake_selecting_services(memo, changed),
        page=options.list_chunk_size,
    ).start()
    if cert is not None:
        await _connect_webhook(memo, options, cert, kwargs["msvc_index"], peered=peered)


PEERING_GROUP = "/apis/kopf.dev/v1"


def ensure_peering(kube: Kube, name: str, namespaces: list[str]) -> None:
    """Create the peering object replicas meet in, unless it exists.

    kopf only patches its keep-alives into an existing object and sees no peer without one:
    every replica would then reconcile.  Shipping the object next to its CRD fails a first
    ``kubectl apply`` (the kind is unknown until the CRD is established), so the operator
    creates it before kopf starts watching -- cluster-wide, or one per served namespace.
    """
    paths = (
        [f"{PEERING_GROUP}/namespaces/{ns}/kopfpeerings" for ns in namespaces]
        if namespaces
        else [f"{PEERING_GROUP}/clusterkopfpeerings"]
    )
    for path in paths:
        kind = "KopfPeering" if "/namespaces/" in path else "ClusterKopfPeering"
        body = {"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": {"name": name}}
        try:
            kube.request("POST", path, body, retry_conflicts=False)
            logger.info("created the %s %s", kind, name)
        except KubeError as error:
            if error.status != 409:  # 409: it exists, as it should
                logger.warning("could not create the %s %s (%s): replicas may not see each other", kind, name, error)


class LeanDiffBaseStorage(kopf.StatusDiffBaseStorage):
    """kopf's diff base in ``status.kopf.diffbase``, built without copying what it discards.

    kopf's ``build`` deep-copies the whole body -- managed fields and status, most of a
    MonitoredService -- and then deletes metadata and status, on every event of every
    MonitoredService.  Handed a body of only what it keeps (all but metadata and status,
    plus labels and annotations), the same code builds the same essence
    (``tests/unit/test_settings.py`` compares the two).
    """

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Iterable[Any] | None = None,
    ) -> Any:
        if extra_fields:  # fields picked from anywhere: kopf's own way
            return super().build(body=body, extra_fields=extra_fields)
        metadata = body.get("metadata") or {}
        lean: dict[str, Any] = {key: value for key, value in body.items() if key not in ("metadata", "status")}
        lean["metadata"] = {key: metadata[key] for key in ("labels", "annotations") if key in metadata}
        return super().build(body=cast(kopf.Body, lean), extra_fields=None)


class LeanProgressStorage(kopf.StatusProgressStorage):
    """kopf's handler progress in ``status.kopf.progress``; its ``clear`` without a copy where it is a no-op.

    kopf clears both diff-base essences of every MonitoredService event (the stored
    one and the one just built) of its progress field, deep-copying each first.  An
    essence with no ``status`` -- the lean diff base never has one -- holds nothing
    to clear: it is handed back as it is (both are fresh objects kopf made for this
    event).  Any other goes through kopf's own ``clear``.
    """

    def clear(self, *, essence: Any) -> Any:
        if isinstance(essence, dict) and "status" not in essence:
            return essence
        return super().clear(essence=essence)


def apply_settings(settings: kopf.OperatorSettings, options: Options) -> None:
    """kopf's settings for otelwire: where its state goes, and what bounds its memory."""
    settings.persistence.progress_storage = LeanProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = LeanDiffBaseStorage(field=DIFFBASE_FIELD)
    settings.persistence.finalizer = "otelwire.io/finalizer"
    # kopf waits this long to see its own status patch come back before it handles the object's
    # next event; past it, it handles an older event and runs the creation handler a second time.
    # A busy API server (1,000 services applied at once) takes longer than kopf's 5 s default.
    settings.persistence.consistency_timeout = 30.0
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.execution.max_workers = 8
    # kopf lists each watched resource when it starts watching (and again after a 410 Gone). In
    # one response, 10,000 pods are decoded at once -- a peak of ~100 MB above the operator's
    # working set, which the process then keeps (docs/benchmarks-cluster.md, "Memory").
    # In pages, the peak is one page.
    settings.watching.chunk_size = options.list_chunk_size or None
    # Each object's kopf worker keeps the object's last event (the whole body) while it waits
    # for the next one, 5 s by default. In a burst that is every pod created in the last 5 s,
    # freed in an order that leaves the allocator's pools part-used: 1 s kept 12-16 MB less at
    # 10,000 pods. The wait for kopf's own patch to come back (consistency_timeout) is separate.
    # Not kopf's worker_limit: before the first full indexing, workers wait for every object to
    # be indexed, so a limit below the object count deadlocks a restart.
    settings.queueing.idle_timeout = options.worker_idle_timeout
    if options.peering_lifetime is not None:
        settings.peering.lifetime = options.peering_lifetime


def _excluded(options: Options) -> tuple[str, ...]:
    return ("kube-system", options.operator_namespace, options.chrony_namespace)


def _indexed(index: kopf.Index[str, Any]) -> Lookup:
    """Reviews' lookup in kopf's own index."""

    def lookup(namespace: str) -> Iterable[MonitoredService]:
        return snapshot(index.get(namespace, ()))

    return lookup


async def _serve_webhook(
    memo: kopf.Memo, options: Options, index: kopf.Index[str, Any], *, peered: bool
) -> certificates.ServingCertificate:
    """Serve reviews from kopf's index; when peered, from the mirror once ``_connect_webhook`` started one."""
    indexed = _indexed(index)
    lookup = indexed
    if peered:

        def lookup(namespace: str) -> Iterable[MonitoredService]:
            mirror: Mirror | None = memo.mirror
            return indexed(namespace) if mirror is None else mirror.get(namespace)

    reviewer = memo.reviewer = Reviewer(lookup, _excluded(options))
    if options.webhook_cert_dir:
        base = Path(options.webhook_cert_dir)
        cert = certificates.from_files(base / "tls.crt", base / "tls.key", base / "ca.crt")
    else:
        hosts = [options.webhook_host, "localhost"] if options.webhook_host not in ("0.0.0.0", "::") else ["127.0.0.1"]
        cert = certificates.self_signed(Path(tempfile.mkdtemp(prefix="otelwire-webhook-")), hosts)
    memo.webhook = await serving.start(
        reviewer, cert, options.webhook_host, options.webhook_port, memo.index_ready.ready
    )
    return cert


async def _connect_webhook(
    memo: kopf.Memo,
    options: Options,
    cert: certificates.ServingCertificate,
    index: kopf.Index[str, Any],
    *,
    peered: bool,
) -> None:
    """What needs the API: the standby's mirror or the start-up list, and a local registration."""
    readiness: IndexReadiness = memo.index_ready
    if peered:  # a paused replica's kopf index is empty or stale: the webhook reads a mirror
        transport = await asyncio.to_thread(memo.transport)
        namespaces, _ = watched_namespaces()
        memo.mirror = Mirror(transport, _indexed(index), namespaces).start()
        if not await asyncio.to_thread(memo.mirror.wait, 30.0):
            logger.warning("MonitoredService mirror not listed yet: the webhook reads kopf's index until it is")
        readiness.ready.set()  # the mirror has listed (or the warning above said it has not)
    else:
        memo.expecting = asyncio.get_running_loop().create_task(_expect_listed(memo, readiness))
    register = options.webhook_register == "true" or (options.webhook_register == "auto" and not in_cluster())
    if register:
        host = "127.0.0.1" if options.webhook_host in ("0.0.0.0", "::") else options.webhook_host
        url = f"https://{host}:{memo.webhook.port}{serving.MUTATE_PATH}"
        body = registering.configuration(
            options.webhook_config_name,
            ca_bundle=cert.ca_bundle,
            url=url,
            excluded_namespaces=_excluded(options),
            local=True,
        )
        path = f"{CONFIG_PATH}/{options.webhook_config_name}"
        await asyncio.to_thread(memo.kube.apply, path, body, manager=MANAGER, force=True)
        memo.registered = path
        logger.info("registered %s for %s", options.webhook_config_name, url)


READY_BOUND = 10.0  # seconds after start-up the webhook stops waiting for the index, listed or not


async def _expect_listed(memo: kopf.Memo, readiness: IndexReadiness) -> None:
    """List the MonitoredServices once; the webhook answers when kopf's index has seen them all."""
    asyncio.get_running_loop().call_later(READY_BOUND, readiness.ready.set)
    namespaces, patterns = watched_namespaces()
    if patterns:
        readiness.ready.set()  # patterns: which namespaces is kopf's business
        return
    paths = (
        [f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{ns}/{PLURAL}" for ns in namespaces]
        if namespaces
        else [f"/apis/{API_GROUP}/{API_VERSION}/{PLURAL}"]
    )
    keys: list[str] = []
    try:
        for path in paths:
            found = await asyncio.to_thread(memo.kube.get, path)
            for item in found.get("items") or []:
                meta = item.get("metadata") or {}
                keys.append(f"{meta.get('namespace')}/{meta.get('name')}")
    except KubeError as error:
        logger.warning("could not list MonitoredServices (%s); the webhook answers without waiting", error)
        readiness.ready.set()
        return
    readiness.expect(keys)


@kopf.on.cleanup()
async def shutdown(*, memo: kopf.Memo, **_: Any) -> None:
    reassessor = getattr(memo, "reassessor", None)
    if reassessor is not None:
        await reassessor.stop()
    mirror = getattr(memo, "mirror", None)
    if mirror is not None:
        mirror.stop()
    pod_watch = getattr(memo, "pods", None)
    if pod_watch is not None:
        pod_watch.stop()
    path = getattr(memo, "registered", None)
    if path:
        try:
            current = await asyncio.to_thread(memo.kube.get, path)
            labels = (current.get("metadata") or {}).get("labels") or {}
            if labels.get(registering.LOCAL_LABEL) == registering.LOCAL_LABEL_VALUE:
                await asyncio.to_thread(memo.kube.delete, path)
        except Exception as error:  # never block shutdown on cleanup
            logger.warning("could not remove the local webhook configuration: %s", error)
    server = getattr(memo, "webhook", None)
    if server is not None:
        await server.stop()
