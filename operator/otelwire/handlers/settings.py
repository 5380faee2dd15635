"""kopf's settings for otelwire: where kopf keeps its state, and what bounds its memory and waits.

kopf's state (handler progress, the diff base) goes to the MonitoredService's
``status.kopf``, never into annotations -- not on our resources, and never on
workloads that GitOps tools own.  The rest are kopf's public settings, each with
why it differs from kopf's default.
"""

from __future__ import annotations

import logging

import kopf

from otelwire.handlers.kopfinternals import LeanDiffBaseStorage, LeanProgressStorage
from otelwire.options import Options
from otelwire.reconcile.landings import DIFFBASE_FIELD

FINALIZER = "otelwire.io/finalizer"


def apply_settings(settings: kopf.OperatorSettings, options: Options) -> None:
    """kopf's settings for otelwire (see the module)."""
    settings.persistence.progress_storage = LeanProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = LeanDiffBaseStorage(field=DIFFBASE_FIELD)
    settings.persistence.finalizer = FINALIZER
    # kopf waits this long to see its own status patch come back before it handles the object's
    # next event; past it, it handles an older event and runs the creation handler a second time.
    # A busy API server (1,000 services applied at once) takes longer than kopf's 5 s default.
    settings.persistence.consistency_timeout = 30.0
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.execution.max_workers = 8
    # kopf lists each watched resource when it starts watching (and again after a 410 Gone): in
    # pages, the peak of a listing is one page, not every MonitoredService decoded at once.
    settings.watching.chunk_size = options.list_chunk_size or None
    # Each object's kopf worker keeps the object's last event (its whole body) while it waits for
    # the next one; kopf's default is 5 s (docs/decisions.md, "kopf settings", has what 1 s is worth).
    # Not kopf's worker_limit: before the first full indexing, workers wait for every object to
    # be indexed, so a limit below the object count deadlocks a restart.
    settings.queueing.idle_timeout = options.worker_idle_timeout
    if options.peering_lifetime is not None:
        settings.peering.lifetime = options.peering_lifetime
