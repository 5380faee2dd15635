"""``otelwire doctor``: the failure modes of docs/design.md's table that a manifest shows.

``findings`` is the data, ``checks`` the pure checks over one pod template's
effective env (after otelwire's plan, when a MonitoredService selects it),
``manifests`` runs them over a set of documents.
"""

from otelwire.doctor.findings import Finding
from otelwire.doctor.manifests import diagnose

__all__ = ["Finding", "diagnose"]
