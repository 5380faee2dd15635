"""The kopf shell: the only package that imports kopf.

Importing it registers every handler, so ``otelwire run`` and ``kopf run -m
otelwire.handlers`` start the same operator.  ``starting`` builds the runtime
and the webhook at start-up and stops them at exit, ``login`` gives kopf its API
session, ``indexing`` keeps kopf's MonitoredService index (and, through it, the
runtime's view of every service), ``services`` holds the reconcile, release and
forget handlers, ``settings`` kopf's settings, and ``kopfinternals`` the places
where otelwire reaches past kopf's public API.  The work itself is
``otelwire.reconcile``'s.
"""

from otelwire.handlers import indexing, login, services, starting

__all__ = ["indexing", "login", "services", "starting"]
