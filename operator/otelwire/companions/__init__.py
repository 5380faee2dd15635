"""Objects that accompany one MonitoredService in its namespace, owned by it.

``podmonitor`` makes the Prometheus Operator scrape the service's pods under the
job name = service name (docs/design.md: "the PodMonitor makes the Prometheus
job the service name"); the Grafana dashboard ConfigMap comes from ``otelwire.dashboards``.
Both carry an ownerReference to the MonitoredService, so deleting it deletes
them.  ``otelwire.actuate.service_objects`` applies them.
"""
