"""kopf's settings as otelwire sets them (handlers/configuring.py ``apply_settings``)."""

from __future__ import annotations

import kopf
import pytest
from otelwire.handlers.configuring import apply_settings
from otelwire.handlers.runtime import Options


@pytest.mark.parametrize(
    ("env", "chunk_size", "idle_timeout"),
    [
        ({}, 500, 1.0),
        ({"OTELWIRE_LIST_CHUNK_SIZE": "0"}, None, 1.0),  # 0: kopf's one response per list
        ({"OTELWIRE_LIST_CHUNK_SIZE": "-3"}, None, 1.0),
        ({"OTELWIRE_LIST_CHUNK_SIZE": "50"}, 50, 1.0),
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": "5"}, 500, 5.0),  # kopf's own default
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": "0.25"}, 500, 0.25),
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": "0"}, 500, 0.1),  # a worker per event is never asked for
        ({"OTELWIRE_WORKER_IDLE_TIMEOUT": ""}, 500, 1.0),
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
