"""Every place otelwire reaches past kopf's public API (``handlers/kopfinternals.py``), checked by name.

A kopf upgrade that moves one of these fails here, with the touchpoint named,
before it fails anywhere else; kopf is pinned to one minor version in
pyproject.toml for the same reason.  The behaviour behind each is tested
beside it: the pause signal against kopf's own daemon killer here and against a
real peering pause in tests/reconcile/test_replicas.py, the lean storages
against kopf's own results in tests/unit/test_settings.py.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect

import kopf
import pytest
from kopf._cogs.aiokits import aiotoggles
from kopf._core.engines import daemons
from otelwire.handlers.kopfinternals import LeanDiffBaseStorage, LeanProgressStorage, pause_aware_memories
from otelwire.reconcile.reassessing import PauseSignal

PINNED = "1.45."  # pyproject.toml: kopf>=1.45,<1.46


def test_kopf_is_the_minor_version_these_touchpoints_were_written_for() -> None:
    version = importlib.metadata.version("kopf")
    assert version.startswith(PINNED), (
        f"kopf {version}: check every touchpoint of otelwire/handlers/kopfinternals.py, then move PINNED"
    )


def test_kopf_run_still_takes_a_memories_object() -> None:
    assert "memories" in inspect.signature(kopf.run).parameters, "kopf.run(memories=...) is gone: pause detection"


def test_resource_memories_still_has_the_method_the_daemon_killer_calls() -> None:
    from kopf._core.reactor.inventory import ResourceMemories

    assert callable(getattr(ResourceMemories, "iter_all_daemon_memories", None))
    source = inspect.getsource(daemons.daemon_killer)
    assert "iter_all_daemon_memories" in source, "kopf's daemon killer no longer visits daemons' memories"
    assert "operator_paused" in inspect.signature(daemons.daemon_killer).parameters


async def test_kopfs_own_daemon_killer_tells_the_pause_signal_while_paused() -> None:
    signal = PauseSignal(grace=1.5)
    memories = pause_aware_memories(signal)
    paused = aiotoggles.ToggleSet(any)
    toggle = await paused.make_toggle(name="a peer with a higher priority")
    killer = asyncio.create_task(
        daemons.daemon_killer(settings=kopf.OperatorSettings(), memories=memories, operator_paused=paused)
    )
    try:
        await asyncio.sleep(0.3)
        assert not signal.paused  # running, not paused: kopf does not visit
        await toggle.turn_to(True)
        for _ in range(20):
            if signal.paused:
                break
            await asyncio.sleep(0.1)
        assert signal.paused
        await asyncio.sleep(2.0)  # kopf keeps visiting while paused
        assert signal.paused
        await toggle.turn_to(False)
        for _ in range(40):
            if not signal.paused:
                break
            await asyncio.sleep(0.1)
        assert not signal.paused
    finally:
        killer.cancel()
        await asyncio.gather(killer, return_exceptions=True)


@pytest.mark.parametrize(
    ("lean", "kopfs", "method"),
    [
        (LeanDiffBaseStorage, kopf.StatusDiffBaseStorage, "build"),
        (LeanProgressStorage, kopf.StatusProgressStorage, "clear"),
    ],
)
def test_the_lean_storages_override_methods_kopf_still_has(lean: type, kopfs: type, method: str) -> None:
    assert issubclass(lean, kopfs)
    assert method in vars(lean) and callable(getattr(kopfs, method))
    assert list(inspect.signature(getattr(lean, method)).parameters) == list(
        inspect.signature(getattr(kopfs, method)).parameters
    ), f"kopf's {kopfs.__name__}.{method} changed its parameters"
