"""The Argo CD Application and the Flux objects point at real paths and say what otelwire needs.

Structure only (no Argo CD or Flux here): the paths they deploy exist and are
kustomizations, the destination namespace is the operator's (manifests/system), the
ignoreDifferences name the field manager otelwire's patch mode really uses,
and the Flux health expressions target the kind the CRD really serves.
"""

from __future__ import annotations

from typing import Any

import yaml
from otelwire.kube.client import MANAGER
from otelwire.spec.model import API_GROUP, API_VERSION, KIND

from .conftest import FLUX_FILE, GITOPS, REPO, flux_documents

APPLICATION = GITOPS / "argocd" / "application.yaml"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}


def applications() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(APPLICATION.read_text()) if d]
    assert all(d["apiVersion"] == "argoproj.io/v1alpha1" and d["kind"] == "Application" for d in docs)
    return {d["metadata"]["name"]: d for d in docs}


def test_otelwire_application_installs_manifests_default() -> None:
    app = applications()["otelwire"]
    source = app["spec"]["source"]
    assert source["path"] == "manifests/default"
    assert (REPO / source["path"] / "kustomization.yaml").is_file()
    # manifests/default = manifests/system (the operator, `namespace:` set there) + manifests/chrony.
    system = yaml.safe_load((REPO / "manifests" / "system" / "kustomization.yaml").read_text())
    assert app["spec"]["destination"]["namespace"] == system["namespace"]


def test_every_application_ignores_what_patch_mode_owns() -> None:
    for name, app in applications().items():
        spec = app["spec"]
        ignored = {
            entry["kind"]
            for entry in spec["ignoreDifferences"]
            if entry.get("group") == "apps" and entry.get("managedFieldsManagers") == [MANAGER]
        }
        assert ignored == WORKLOAD_KINDS, name
        # Without RespectIgnoreDifferences a sync would re-apply the ignored fields.
        assert {"ServerSideApply=true", "RespectIgnoreDifferences=true"} <= set(spec["syncPolicy"]["syncOptions"]), name
        assert (REPO / spec["source"]["path"]).is_dir(), name


def test_webhook_ca_bundle_is_ignored_on_the_webhook_we_ship() -> None:
    webhook = yaml.safe_load((REPO / "manifests" / "operator" / "webhook.yaml").read_text())
    entry = next(e for e in applications()["otelwire"]["spec"]["ignoreDifferences"] if "jqPathExpressions" in e)
    assert (entry["kind"], entry["name"]) == (webhook["kind"], webhook["metadata"]["name"])
    assert "cert-manager.io/inject-ca-from" in webhook["metadata"]["annotations"]


def test_flux_kustomizations_wait_and_check_monitored_services() -> None:
    docs = flux_documents()
    sources = {d["metadata"]["name"] for d in docs if d["kind"] == "GitRepository"}
    kustomizations = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Kustomization"}
    assert set(kustomizations) == {"otelwire", "shop"}
    for name, ks in kustomizations.items():
        assert ks["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
        spec = ks["spec"]
        assert spec["wait"] is True and spec["timeout"], name
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": next(iter(sources))}
        # A kustomization, or a plain directory of manifests (Flux generates the kustomization).
        assert list((REPO / spec["path"]).glob("*.yaml")), name
    assert kustomizations["otelwire"]["spec"]["path"] == "./manifests/default"
    assert kustomizations["shop"]["spec"]["dependsOn"] == [{"name": "otelwire"}]
    (check,) = kustomizations["shop"]["spec"]["healthCheckExprs"]
    assert (check["apiVersion"], check["kind"]) == (f"{API_GROUP}/{API_VERSION}", KIND)
    assert all(check[key].strip() for key in ("current", "inProgress", "failed"))


def test_flux_file_is_not_mistaken_for_kustomize_config() -> None:
    assert FLUX_FILE.name != "kustomization.yaml"
    assert not (FLUX_FILE.parent / "kustomization.yaml").exists()
