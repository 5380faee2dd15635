"""Reconciling and re-assessing MonitoredServices, given a typed runtime; no kopf here.

``runtime`` is the shared state a running operator is made of; ``reconciling`` is
one reconcile (facts in, the core, what changed out); ``reassessing`` re-runs it
when a selected pod changes and every interval, with one task for every service;
``waking`` turns pod changes into wake-ups; ``selections``, ``landings`` and
``books`` keep the per-service state.  ``otelwire.handlers`` is the kopf side that
calls in.
"""
