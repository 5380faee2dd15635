"""The assessor: pure functions from observed facts to status conditions.

``facts`` describes what the shell observed (compact pod skeletons, a
collector probe, chrony pods), ``conditions`` builds kstatus-shaped
conditions that keep ``lastTransitionTime`` unless the status flips, and
``assessing`` decides which conditions hold.  The kopf shell gathers the facts
and writes the result to ``status``; nothing here does I/O.
"""

from otelwire.assess.assessing import Assessment, assess, assess_invalid
from otelwire.assess.facts import ClockFacts, ProbeResult, pod_skeleton

__all__ = ["Assessment", "ClockFacts", "ProbeResult", "assess", "assess_invalid", "pod_skeleton"]
