"""``otelwire run``: the operator.

Flags become ``OTELWIRE_*`` environment variables (so ``kopf run -m
otelwire.handlers`` reads the same configuration), then kopf runs the
handlers in ``otelwire.handlers``: in a cluster with the webhook certificate
from a mounted Secret, outside one with a kubeconfig, a self-signed
certificate and a URL webhook registered on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys
from types import ModuleType

from otelwire.cli import placing


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "run",
        help="run the operator (in a cluster, or against a kubeconfig)",
        description="Run the otelwire operator: reconcile MonitoredServices and serve the pod webhook.",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)"
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="serve only these namespaces (repeatable; default: the whole cluster)",
    )
    parser.add_argument(
        "--peering",
        metavar="NAME",
        help="kopf peering name: replicas agree on one active reconciler (default: standalone)",
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority of this replica (default with --peering: random, so replicas never tie; "
        "kopf pauses every replica when the highest priorities are equal)",
    )
    parser.add_argument(
        "--peering-lifetime",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long a replica's peering record stays valid without a keep-alive (default: kopf's, 60)",
    )
    parser.add_argument(
        "--liveness",
        default="http://0.0.0.0:8081/healthz",
        help="kopf liveness probe endpoint (default: http://0.0.0.0:8081/healthz)",
    )
    parser.add_argument("--metrics-port", type=int, default=8080, help="Prometheus /metrics port (0: off)")
    parser.add_argument("--no-webhook", action="store_true", help="do not serve the pod webhook")
    parser.add_argument("--webhook-host", default="127.0.0.1", help="address the webhook listens on")
    parser.add_argument("--webhook-port", type=int, default=9443, help="webhook port (0: any free port)")
    parser.add_argument(
        "--webhook-cert-dir",
        default="",
        help="directory with tls.crt/tls.key (and ca.crt) from a Secret; default: self-signed",
    )
    parser.add_argument(
        "--register-webhook",
        choices=("auto", "true", "false"),
        default="auto",
        help="register a URL MutatingWebhookConfiguration (auto: only outside a cluster)",
    )
    parser.add_argument(
        "--webhook-config-name",
        default="otelwire-local",
        help="name of the registered configuration (default: otelwire-local)",
    )
    parser.add_argument(
        "--reassess-interval", type=float, default=60.0, help="seconds between periodic re-assessments (default: 60)"
    )
    placing.add_arguments(parser)
    parser.add_argument("--log-format", choices=("plain", "full", "json"), default="plain")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.set_defaults(run=run)


def _priority(args: argparse.Namespace) -> int:
    if args.priority is not None:
        return int(args.priority)
    if args.peering is None:
        return 0
    import secrets

    return 1 + secrets.randbelow(1_000_000)


def import_operator() -> ModuleType:
    """Import kopf with a registry of otelwire's handlers alone; kopf.

    With a plain registry, kopf logs in only through ``handlers.login`` (its
    default registry offers fallback logins of its own choosing).  Imported late:
    the offline commands need no operator framework.
    """
    import kopf

    if "otelwire.handlers" not in sys.modules:  # else its handlers are in the registry already
        kopf.set_default_registry(kopf.OperatorRegistry())
        import otelwire.handlers  # noqa: F401  (registers the handlers)

    return kopf


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Bound glibc's malloc arenas, as ``MALLOC_ARENA_MAX`` would; whether it applied.

    glibc gives each thread that allocates its own arena (up to 8 per core),
    and memory freed in one is not reused by another: with kopf's worker
    threads, the re-assessment threads and the informers', the operator's RSS
    grows by arenas it stops using (docs/decisions.md, "Process-level tunings").
    Called before any thread starts; a no-op where the C library is not glibc
    or the environment already sets ``MALLOC_ARENA_MAX``.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))


def name_the_user() -> None:
    """Give kopf a user name to build its peering identity from, where the uid has none.

    kopf names a replica ``POD_ID`` (the Deployment sets it) or ``<user>@<host>``, and finds the
    user with ``getpass.getuser()``, which raises for a uid with no passwd entry -- what an image
    running as an arbitrary uid (65532 here) has.  ``$USER`` is what getuser reads first.
    """
    if os.environ.get("POD_ID"):
        return
    import getpass

    try:
        getpass.getuser()
    except (KeyError, OSError):
        os.environ["USER"] = f"uid-{os.getuid()}"


def run(args: argparse.Namespace) -> int:
    limit_malloc_arenas()
    name_the_user()
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    os.environ.update(placing.environment(args))
    os.environ.update(
        {
            "OTELWIRE_METRICS_PORT": str(args.metrics_port),
            "OTELWIRE_WEBHOOK": "false" if args.no_webhook else "true",
            "OTELWIRE_WEBHOOK_HOST": args.webhook_host,
            "OTELWIRE_WEBHOOK_PORT": str(args.webhook_port),
            "OTELWIRE_WEBHOOK_CERT_DIR": args.webhook_cert_dir,
            "OTELWIRE_WEBHOOK_REGISTER": args.register_webhook,
            "OTELWIRE_WEBHOOK_CONFIG_NAME": args.webhook_config_name,
            "OTELWIRE_REASSESS_INTERVAL": str(args.reassess_interval),
        }
    )
    optional = {
        "OTELWIRE_PEERING_LIFETIME": None if args.peering_lifetime is None else str(args.peering_lifetime),
        "OTELWIRE_WATCH_NAMESPACES": ",".join(args.namespaces or ()),
    }
    os.environ.update({key: value for key, value in optional.items() if value})
    kopf = import_operator()
    from otelwire.handlers.kopfinternals import pause_aware_memories

    formats = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}
    kopf.configure(verbose=args.verbose, log_format=formats[args.log_format])
    kopf.run(
        clusterwide=not args.namespaces,
        namespaces=args.namespaces or (),
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=_priority(args),
        liveness_endpoint=args.liveness or None,
        memories=pause_aware_memories(),
    )
    return 0
