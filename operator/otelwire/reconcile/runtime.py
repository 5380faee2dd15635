"""Everything a running operator shares between its handlers, as one typed object.

Built once by the start-up handler (``handlers.starting``) and handed to the
reconcile logic, the re-assessments and the index handler; kopf's ``memo``
carries only this object.  Each part is a plain object of its own package:
the client (``kube``), what is observed (``observe``), what is written
(``actuate``), the bookkeeping (``books``, ``landings``, ``selections``).
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from otelwire.actuate.cluster import ClusterObjects
from otelwire.actuate.service_objects import ServiceObjects
from otelwire.kube.client import Kube
from otelwire.kube.config import ApiConfig
from otelwire.observe.clock import ClockReader
from otelwire.observe.discovery import PodMonitors
from otelwire.observe.pods import PodWatch
from otelwire.observe.probing import Prober
from otelwire.options import Options
from otelwire.reconcile.books import ReadyBook, ReconcileLocks, RestartBook
from otelwire.reconcile.landings import Landings
from otelwire.reconcile.selections import Selections
from otelwire.webhook.readiness import IndexReadiness

if TYPE_CHECKING:
    from otelwire.reconcile.reassessing import Reassessor
    from otelwire.webhook.reviewing import Reviewer


@dataclass
class Runtime:
    """The operator's shared state (see the module)."""

    options: Options
    config: ApiConfig  # where the API server is and who otelwire is (kopf's session too)
    kube: Kube
    pods: PodWatch
    prober: Prober
    clock: ClockReader
    podmonitors: PodMonitors
    cluster: ClusterObjects
    companions: ServiceObjects
    selections: Selections = field(default_factory=Selections)
    locks: ReconcileLocks = field(default_factory=ReconcileLocks)
    landings: Landings = field(default_factory=Landings)
    readiness: ReadyBook = field(default_factory=ReadyBook)
    restarts: RestartBook = field(default_factory=RestartBook)
    index_ready: IndexReadiness = field(default_factory=IndexReadiness)  # the webhook answers once set
    reviewer: Reviewer | None = None  # the webhook's, when it serves: it plans with the same facts
    reassessor: Reassessor | None = None
    # Re-assessments woken by pods get threads of their own: in kopf's pool they would wait behind
    # creation handlers blocked on a busy API server.
    executor: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="reassess")
    )
