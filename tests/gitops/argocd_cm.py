"""The argocd-cm patch is generated from health.lua; run this file to regenerate it.

``manifests/gitops/argocd/health.lua`` is the one place the health check is
written; ``manifests/gitops/argocd/argocd-cm/argocd-cm-patch.yaml`` embeds it
verbatim under the key Argo CD reads.  ``test_argocd_health.py`` fails when the
two differ and names this command:

    .venv/bin/python tests/gitops/argocd_cm.py
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARGOCD = REPO / "manifests" / "gitops" / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"
PATCH = ARGOCD / "argocd-cm" / "argocd-cm-patch.yaml"
KEY = "resource.customizations.health.otelwire.io_MonitoredService"


def render(lua: str) -> str:
    """The strategic-merge patch for argocd-cm carrying ``lua`` as a YAML block scalar."""
    body = "".join(f"    {line}\n" if line else "\n" for line in lua.splitlines())
    return (
        "# Generated from ../health.lua by tests/gitops/argocd_cm.py -- edit health.lua, not this copy.\n"
        "# Adds otelwire's MonitoredService health check to Argo CD's argocd-cm (no namespace: it\n"
        "# patches argocd-cm wherever the including kustomization puts it).\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: argocd-cm\n"
        "data:\n"
        f"  {KEY}: |\n"
        f"{body}"
    )


if __name__ == "__main__":
    PATCH.write_text(render(HEALTH_LUA.read_text()))
    print(f"wrote {PATCH.relative_to(REPO)}")
