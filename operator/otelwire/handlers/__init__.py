"""The kopf shell: handlers that move data between the API and the pure core.

Importing this package registers every handler, so both ``otelwire run`` and
``kopf run -m otelwire.handlers`` start the same operator.  ``connecting``
logs in with a bounded API connection pool, ``configuring`` sets kopf up and
starts the webhook, ``indexing`` keeps the MonitoredService index, ``podwatching`` lists and
watches pods (as skeletons, outside kopf), ``services`` reconciles
MonitoredServices, ``pods`` wakes their re-assessment when a selected pod
changes, ``applying`` is patch mode, ``probing`` checks collectors, ``kube`` is the small API client.
"""

from otelwire.handlers import configuring, connecting, indexing, pods, podwatching, services

__all__ = ["configuring", "connecting", "indexing", "pods", "podwatching", "services"]
