"""CPU cost of kopf's diff base per MonitoredService event: kopf's own build against otelwire's lean one.

    .venv/bin/python bench/diffbase.py

kopf builds the diff base (the "essence" it compares to see whether a spec
changed) on every event of every MonitoredService; a burst of 1,000 new
services is ~3,000 events.  ``diffbase_body.json`` is a real MonitoredService
as the API server returned it (status with seven conditions, kopf's diff base,
four managed-fields entries), read from the test plane after its pod turned
Ready.  Both builds run on it alternately, in this process; the median of the
repetitions is reported, per build, in microseconds of process CPU time.
JSON goes to ``bench/results/diffbase.json`` (the reference; see ``recording``).
"""

from __future__ import annotations

import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any

import kopf
import recording
from otelwire.handlers.kopfinternals import LeanDiffBaseStorage

HERE = Path(__file__).resolve().parent

BUILDS = 2_000
REPETITIONS = 15


def per_build_us(storage: Any, body: kopf.Body) -> float:
    started = time.process_time()
    for _ in range(BUILDS):
        storage.build(body=body)
    return 1e6 * (time.process_time() - started) / BUILDS


def main() -> int:
    raw = json.loads((HERE / "diffbase_body.json").read_text())
    body = kopf.Body(raw)
    field = "status.kopf.diffbase"
    storages = {"kopf": kopf.StatusDiffBaseStorage(field=field), "otelwire (lean)": LeanDiffBaseStorage(field=field)}
    essences = {name: storage.build(body=body) for name, storage in storages.items()}
    assert len({json.dumps(e, sort_keys=True) for e in essences.values()}) == 1, "the essences differ"
    samples: dict[str, list[float]] = {name: [] for name in storages}
    for _ in range(REPETITIONS):  # alternating, so both see the same machine
        for name, storage in storages.items():
            samples[name].append(per_build_us(storage, body))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor = medians["kopf"]
    print(f"body: {len(json.dumps(raw))} bytes of JSON; {BUILDS} builds x {REPETITIONS} repetitions, alternating")
    print(f"{'build':<18} {'median us':>10} {'min us':>8} {'max us':>8} {'vs kopf':>8}")
    for name, values in samples.items():
        print(
            f"{name:<18} {medians[name]:>10.1f} {min(values):>8.1f} {max(values):>8.1f} {medians[name] / floor:>7.2f}x"
        )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "benchmark": "diffbase",
        "timestamp": stamp,
        "body_bytes": len(json.dumps(raw)),
        "builds": BUILDS,
        "repetitions": REPETITIONS,
        "median_us": medians,
        "samples_us": samples,
    }
    print(f"results: {recording.record('diffbase', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
