"""Cluster-wide objects the operator owns on behalf of all MonitoredServices.

``chrony`` builds the one chrony DaemonSet (and its configuration) that clock
sync needs; ``renaming`` builds the one ConfigMap of collector rules that rename
every service's aliases to its canonical name.  Both are pure: from the set of
valid MonitoredServices to the objects' manifests (or to nothing, when nobody
wants them).  ``otelwire.actuate.cluster`` applies and removes them.
"""
