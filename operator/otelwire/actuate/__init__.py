"""Every write otelwire makes besides its webhook's answers: workloads, objects it owns, statuses.

``patching`` is patch mode (server-side apply of the plan onto pod templates,
its release) and ``restartOutdated``'s rollout restarts; ``cluster`` keeps the
cluster-wide objects (chrony, collector rules); ``service_objects`` each
service's PodMonitor and dashboard; ``statuses`` writes a MonitoredService's
status.  What is written comes from the pure core (``plan``, ``generated``,
``assess``); nothing here imports kopf.
"""
