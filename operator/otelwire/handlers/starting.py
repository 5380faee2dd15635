"""Start-up and shutdown: kopf's settings, the webhook, the runtime every handler shares.

Start-up, in the order that lets the webhook answer soonest:

1. kopf's settings (``handlers.settings``), the metrics endpoint;
2. the webhook serves (``webhook.serving``): a review needs only kopf's index --
   or, when replicas peer, the mirror started below -- and waits for it anyway;
3. the API configuration is loaded once (``kube.config``), the peering object
   created if needed, and the :class:`~otelwire.reconcile.runtime.Runtime` built:
   client, pod informer, prober, clock reader, discovery, the actuators, the
   books, the re-assessments;
4. the webhook is connected to the cluster: the standby's mirror, or the
   start-up list the webhook waits for, and -- outside a cluster -- otelwire's
   own URL MutatingWebhookConfiguration, removed again on exit.

kopf's ``memo`` carries two objects: the runtime, and :class:`Serving`, what
shutdown must stop.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
import prometheus_client

from otelwire import metrics
from otelwire.actuate.cluster import ClusterObjects
from otelwire.actuate.service_objects import ServiceObjects
from otelwire.handlers import services
from otelwire.handlers.indexing import runtime_of, snapshot
from otelwire.handlers.settings import apply_settings
from otelwire.kube.client import MANAGER, Kube, KubeError
from otelwire.kube.config import ApiConfig, in_cluster, load
from otelwire.observe.clock import ClockReader
from otelwire.observe.discovery import PodMonitors
from otelwire.observe.mirror import Lookup, Mirror
from otelwire.observe.pods import PodWatch
from otelwire.observe.probing import Prober
from otelwire.options import Options
from otelwire.reconcile import reconciling
from otelwire.reconcile.landings import service_key
from otelwire.reconcile.reassessing import SETTLE, Reassessor
from otelwire.reconcile.runtime import Runtime
from otelwire.reconcile.waking import wake_selecting_services
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService
from otelwire.webhook import certificates, registering, serving
from otelwire.webhook.readiness import IndexReadiness
from otelwire.webhook.reviewing import Reviewer

logger = logging.getLogger(__name__)
CONFIG_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
PEERING_GROUP = "/apis/kopf.dev/v1"
READY_BOUND = 10.0  # seconds after start-up the webhook stops waiting for the index, listed or not


@dataclass
class Serving:
    """The webhook's running parts, for shutdown."""

    server: serving.RunningServer | None = None
    mirror: Mirror | None = None
    registered: str | None = None  # the URL webhook configuration this process applied
    expecting: asyncio.Task[None] | None = None


@kopf.on.startup()
async def configure(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    options = Options.from_env()
    apply_settings(settings, options)
    serving_state = memo.serving = Serving()
    if options.metrics_port:
        prometheus_client.start_http_server(options.metrics_port, registry=metrics.REGISTRY)
    index: kopf.Index[str, Any] = kwargs["msvc_index"]
    peered = not settings.peering.standalone
    index_ready = IndexReadiness()
    reviewer: Reviewer | None = None
    cert: certificates.ServingCertificate | None = None
    if options.webhook_enabled:
        reviewer = Reviewer(_webhook_lookup(serving_state, index, peered), _excluded(options))
        cert = _certificate(options)
        serving_state.server = await serving.start(
            reviewer, cert, options.webhook_host, options.webhook_port, index_ready.ready
        )
    config = await asyncio.to_thread(load)
    kube = Kube(await asyncio.to_thread(config.api_client), refresh=config.refreshed)
    if peered:
        if options.namespace_patterns:
            logger.warning("namespace patterns: create the KopfPeering %s in each namespace", settings.peering.name)
        else:
            await asyncio.to_thread(ensure_peering, kube, settings.peering.name, list(options.watch_namespaces))
    runtime = memo.runtime = _runtime(options, config, kube, reviewer, index_ready)
    if reviewer is not None:  # the webhook plans for one scrape path per pod from the start
        await asyncio.to_thread(reconciling.discover_podmonitors, runtime)
    runtime.reassessor = Reassessor(
        services.reassessment(runtime),
        runtime.executor,
        interval=options.reassess_interval,
        settle=SETTLE,
        retry_delay=lambda error: getattr(error, "delay", None) or 5.0,
        ready=lambda body: not runtime.landings.awaited(service_key(body), body),
    ).start()
    runtime.pods.loop = asyncio.get_running_loop()
    runtime.pods.notify = lambda changed: wake_selecting_services(runtime.selections, runtime.reassessor, changed)
    runtime.pods.start()
    if cert is not None and serving_state.server is not None:
        await _connect_webhook(runtime, serving_state, cert, index, peered=peered)


def _runtime(
    options: Options, config: ApiConfig, kube: Kube, reviewer: Reviewer | None, index_ready: IndexReadiness
) -> Runtime:
    clock = ClockReader(kube, options.chrony_namespace)
    podmonitors = PodMonitors(kube)
    pods = PodWatch(
        Kube(config.api_client(), refresh=config.refreshed),  # its own connections: a watch holds one
        () if options.namespace_patterns else options.watch_namespaces,  # patterns: every pod is watched
        page=options.list_chunk_size,
    )
    return Runtime(
        options=options,
        config=config,
        kube=kube,
        pods=pods,
        prober=Prober(options.probe_timeout, options.probe_ttl),
        clock=clock,
        podmonitors=podmonitors,
        cluster=ClusterObjects(kube, options, clock),
        companions=ServiceObjects(kube, podmonitors),
        reviewer=reviewer,
        index_ready=index_ready,
    )


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


def _excluded(options: Options) -> tuple[str, ...]:
    return ("kube-system", options.operator_namespace, options.chrony_namespace)


def _indexed(index: kopf.Index[str, Any]) -> Lookup:
    """Reviews' lookup in kopf's own index."""

    def lookup(namespace: str) -> Iterable[MonitoredService]:
        return snapshot(index.get(namespace, ()))

    return lookup


def _webhook_lookup(state: Serving, index: kopf.Index[str, Any], peered: bool) -> Lookup:
    """kopf's index; when replicas peer, the mirror once ``_connect_webhook`` started one."""
    indexed = _indexed(index)
    if not peered:
        return indexed

    def lookup(namespace: str) -> Iterable[MonitoredService]:
        mirror = state.mirror
        return indexed(namespace) if mirror is None else mirror.get(namespace)

    return lookup


def _certificate(options: Options) -> certificates.ServingCertificate:
    """The mounted Secret's files (in a cluster), else a self-signed certificate for the listen address."""
    if options.webhook_cert_dir:
        base = Path(options.webhook_cert_dir)
        return certificates.from_files(base / "tls.crt", base / "tls.key", base / "ca.crt")
    hosts = [options.webhook_host, "localhost"] if options.webhook_host not in ("0.0.0.0", "::") else ["127.0.0.1"]
    return certificates.self_signed(Path(tempfile.mkdtemp(prefix="otelwire-webhook-")), hosts)


async def _connect_webhook(
    runtime: Runtime,
    state: Serving,
    cert: certificates.ServingCertificate,
    index: kopf.Index[str, Any],
    *,
    peered: bool,
) -> None:
    """What needs the API: the standby's mirror or the start-up list, and a local registration."""
    options = runtime.options
    readiness = runtime.index_ready
    if peered:  # a paused replica's kopf index is empty or stale: the webhook reads a mirror
        mirror_kube = Kube(await asyncio.to_thread(runtime.config.api_client), attempts=1)
        state.mirror = Mirror(mirror_kube, _indexed(index), options.watch_namespaces).start()
        if not await asyncio.to_thread(state.mirror.wait, 30.0):
            logger.warning("MonitoredService mirror not listed yet: the webhook reads kopf's index until it is")
        readiness.ready.set()  # the mirror has listed (or the warning above said it has not)
    else:
        state.expecting = asyncio.get_running_loop().create_task(_expect_listed(runtime, readiness))
    register = options.webhook_register == "true" or (options.webhook_register == "auto" and not in_cluster())
    if register and state.server is not None:
        host = "127.0.0.1" if options.webhook_host in ("0.0.0.0", "::") else options.webhook_host
        url = f"https://{host}:{state.server.port}{serving.MUTATE_PATH}"
        body = registering.configuration(
            options.webhook_config_name,
            ca_bundle=cert.ca_bundle,
            url=url,
            excluded_namespaces=_excluded(options),
            local=True,
        )
        path = f"{CONFIG_PATH}/{options.webhook_config_name}"
        await asyncio.to_thread(runtime.kube.apply, path, body, manager=MANAGER, force=True)
        state.registered = path
        logger.info("registered %s for %s", options.webhook_config_name, url)


async def _expect_listed(runtime: Runtime, readiness: IndexReadiness) -> None:
    """List the MonitoredServices once; the webhook answers when kopf's index has seen them all."""
    asyncio.get_running_loop().call_later(READY_BOUND, readiness.ready.set)
    options = runtime.options
    if options.namespace_patterns:
        readiness.ready.set()  # patterns: which namespaces is kopf's business
        return
    paths = (
        [f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{ns}/{PLURAL}" for ns in options.watch_namespaces]
        if options.watch_namespaces
        else [f"/apis/{API_GROUP}/{API_VERSION}/{PLURAL}"]
    )
    keys: list[str] = []
    try:
        for path in paths:
            found = await asyncio.to_thread(runtime.kube.get, path)
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
    runtime = runtime_of(memo)
    state: Serving | None = getattr(memo, "serving", None)
    if runtime is not None:
        if runtime.reassessor is not None:
            await runtime.reassessor.stop()
        runtime.pods.stop()
    if state is None:
        return
    if state.mirror is not None:
        state.mirror.stop()
    if state.registered and runtime is not None:
        try:
            current = await asyncio.to_thread(runtime.kube.get, state.registered)
            labels = (current.get("metadata") or {}).get("labels") or {}
            if labels.get(registering.LOCAL_LABEL) == registering.LOCAL_LABEL_VALUE:
                await asyncio.to_thread(runtime.kube.delete, state.registered)
        except Exception as error:  # never block shutdown on cleanup
            logger.warning("could not remove the local webhook configuration: %s", error)
    if state.server is not None:
        await state.server.stop()
