"""What the shell observes beside kopf, for the assessor: pods, collectors, clocks, discovery.

``pods`` keeps pod skeletons from an informer and reports the ones that changed,
``mirror`` keeps a standby's MonitoredServices for its webhook, ``probing`` checks
collector endpoints, ``clock`` reads the chrony DaemonSet for ``ClockSynced``, and
``discovery`` asks whether PodMonitors are served.  Reads only: the writes are
``otelwire.actuate``'s.  Nothing here imports kopf.
"""
