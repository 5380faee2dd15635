"""The pod-mutating admission webhook.

``reviewing`` answers one AdmissionReview from the in-memory MonitoredService
index and the planner (pure apart from the clock and metrics), ``serving`` is
the aiohttp TLS server around it, ``certificates`` makes or loads the serving
certificate, and ``registering`` builds (and, for a developer's local run,
applies) the MutatingWebhookConfiguration.

The webhook is otelwire's own aiohttp endpoint rather than kopf's admission
engine: kopf turns a handler's merge-patch into JSON-patch operations by
diffing the whole object (a replaced ``env`` list, not the ``add`` operations
we mean) and its managed configuration has no ``namespaceSelector``,
``reinvocationPolicy`` or short timeout.  The index it reads is still kopf's.
"""
