"""kopf's settings as otelwire sets them (``otelwire.handlers.settings.apply_settings``)."""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest
from otelwire.handlers.settings import apply_settings
from otelwire.options import Options


@pytest.mark.parametrize(
    ("env", "chunk_size", "idle_timeout"),
    [
        ({}, 100, 1.0),
        ({"OTELWIRE_LIST_CHUNK_SIZE": "0"}, None, 1.0),  # 0: kopf's one response per list
        ({"OTELWIRE_LIST_CHUNK_SIZE": "-3"}, None, 1.0),
        ({"OTELWIRE_LIST_CHUNK_SIZE": "50"}, 50, 1.0),
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": "5"}, 100, 5.0),  # kopf's own default
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": "0.25"}, 100, 0.25),
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": "0"}, 100, 0.1),  # a worker per event is never asked for
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": ""}, 100, 1.0),
    ],
)
def test_lists_and_idle_workers_follow_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], chunk_size: int | None, idle_timeout: float
) -> None:
    for name in ("OTELWIRE_LIST_CHUNK_SIZE", "OTELWIRE_WORKER_IDLE_TIMEOUT", "OTELWIRE_PEERING_LIFETIME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = kopf.OperatorSettings()
    apply_settings(settings, Options.from_env())
    assert settings.watching.chunk_size == chunk_size
    assert settings.queueing.idle_timeout == idle_timeout
    assert settings.queueing.worker_limit is None  # a limit deadlocks kopf's first indexing


def test_kopfs_state_goes_to_the_status_not_to_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELWIRE_PEERING_LIFETIME", "7")
    settings = kopf.OperatorSettings()
    apply_settings(settings, Options.from_env())
    assert isinstance(settings.persistence.progress_storage, kopf.StatusProgressStorage)
    assert isinstance(settings.persistence.diffbase_storage, kopf.StatusDiffBaseStorage)
    assert settings.persistence.finalizer == "otelwire.io/finalizer"
    assert settings.peering.lifetime == 7


def _msvc(**parts: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "uid": "u-1",
            "generation": 3,
            "resourceVersion": "812",
            "finalizers": ["otelwire.io/finalizer"],
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:selector": {}}}}],
        },
        "spec": {"selector": {"matchLabels": {"app": "orders"}}, "injection": {"mode": "patch"}},
        "status": {
            "observedGeneration": 3,
            "conditions": [{"type": "Ready", "status": "True"}],
            "kopf": {"diffbase": '{"spec": {}}', "progress": {"reconcile": {"retries": 1}}},
        },
    }
    for path, value in parts.items():
        target = body
        *heads, last = path.split("__")
        for head in heads:
            target = target.setdefault(head, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return body


@pytest.mark.parametrize(
    "body",
    [
        _msvc(),
        _msvc(metadata__labels={"team": "shop", "tier": "backend"}),
        _msvc(
            metadata__annotations={
                "kubectl.kubernetes.io/last-applied-configuration": "{}",  # dropped by kopf
                "kopf.zalando.org/last-handled-configuration": "{}",  # another kopf operator's: dropped
                "otelwire.io/owner": "platform",
            }
        ),
        _msvc(metadata__labels={}, metadata__annotations={}),  # empty stanzas: dropped
        _msvc(status=None),  # just created
        _msvc(metadata=None),
        _msvc(spec=None),
        _msvc(spec__aliases=["legacy"], spec__clock={"sync": "chrony"}, extra={"top": [1, {"x": None}]}),
    ],
)
def test_the_lean_diff_base_is_kopfs_own(body: dict[str, Any]) -> None:
    settings = kopf.OperatorSettings()
    apply_settings(settings, Options())
    lean = settings.persistence.diffbase_storage
    kopfs = kopf.StatusDiffBaseStorage(field="status.kopf.diffbase")
    snapshot = copy.deepcopy(body)
    assert lean.build(body=kopf.Body(body)) == kopfs.build(body=kopf.Body(body))
    assert lean.build(body=kopf.Body(body), extra_fields=[]) == kopfs.build(body=kopf.Body(body), extra_fields=[])
    picked = ["status.observedGeneration"]  # a field handler's extra field: kopf's own way
    assert lean.build(body=kopf.Body(body), extra_fields=picked) == kopfs.build(
        body=kopf.Body(body), extra_fields=picked
    )
    assert body == snapshot  # read, not changed
    essence = lean.build(body=kopf.Body(body))
    if "spec" in body:
        essence["spec"]["changed"] = True  # a copy: the body's spec is not the essence's
        assert "changed" not in body["spec"]


@pytest.mark.parametrize(
    "essence",
    [
        {"spec": {"selector": {"matchLabels": {"app": "orders"}}}},
        {"spec": {}, "metadata": {"labels": {"team": "shop"}}},
        {},
        {"spec": {"a": 1}, "status": {"kopf": {"progress": {"reconcile": {"retries": 1}}}, "other": 1}},
        {"status": {"kopf": {"progress": {"reconcile": {}}}}},  # nothing left: kopf drops the stanzas
        {"status": {"observedGeneration": 2}},
    ],
)
def test_the_lean_progress_clear_is_kopfs_own(essence: dict[str, Any]) -> None:
    settings = kopf.OperatorSettings()
    apply_settings(settings, Options())
    lean = settings.persistence.progress_storage
    kopfs = kopf.StatusProgressStorage(field="status.kopf.progress")
    snapshot = copy.deepcopy(essence)
    assert lean.clear(essence=copy.deepcopy(essence)) == kopfs.clear(essence=copy.deepcopy(essence))
    cleared = lean.clear(essence=essence)
    if "status" in essence:
        assert cleared is not essence and essence == snapshot  # kopf's way: a cleared copy
    else:
        assert cleared is essence  # nothing to clear: no copy
