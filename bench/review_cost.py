"""CPU cost of answering one AdmissionReview in process -- no HTTP, no TLS -- per kind of pod.

    .venv/bin/python bench/review_cost.py                     # this tree's webhook
    .venv/bin/python bench/review_cost.py --compare-ref REF   # and the webhook files of a git ref, interleaved

The server-side work that ``bench/admission.py`` cannot separate from aiohttp
and TLS: for the same request mix (``admission_data``), after one warm pass
(every plan cached, the steady state of a running operator), the thread CPU
time of ``json.loads`` of the body (the part every webhook pays, the floor
included) and of the reviewer's answer, serialised as the server sends it.
Repetitions alternate between implementations; the median repetition is
reported.  JSON goes to ``bench/results/review-cost.json`` (the reference; see
``recording``).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import admission_data  # noqa: E402
import recording  # noqa: E402


def _module_from_ref(ref: str, directory: Path) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{ref}:operator/otelwire/webhook/reviewing.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = directory / "reviewing_ref.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("reviewing_ref", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answerer(module: ModuleType, index: dict[str, list[Any]]) -> Callable[[Any], bytes]:
    """The server's per-request call for this version of the reviewer."""
    reviewer = module.Reviewer(lambda namespace: index.get(namespace, ()), ("kube-system", "otelwire-system"))
    if hasattr(reviewer, "review_json"):
        return reviewer.review_json  # type: ignore[no-any-return]

    def answer(review: Any) -> bytes:  # what serving.py did before: json_response(review(...), dumps=...)
        return json.dumps(reviewer.review(review), separators=(",", ":")).encode()

    return answer


def measure(
    answerers: dict[str, Callable[[Any], bytes]], pool: Sequence[admission_data.Request], repetitions: int
) -> dict[str, Any]:
    bodies = [request.body for request in pool]
    kinds = sorted({request.kind for request in pool})
    for answer in answerers.values():  # the warm pass: every plan and answer cached
        for body in bodies:
            answer(json.loads(body))
    samples: dict[str, dict[str, list[float]]] = {
        name: {kind: [] for kind in [*kinds, "all"]} for name in [*answerers, "json.loads"]
    }
    clock = time.thread_time_ns
    names = list(answerers)
    gc.collect()
    gc.disable()  # a server frees each request's objects at once; here they pile up, and GC would bill them
    try:
        _repeat(answerers, pool, repetitions, kinds, samples, names, clock)
    finally:
        gc.enable()
    return {
        name: {kind: statistics.median(values) for kind, values in by_kind.items()} for name, by_kind in samples.items()
    }


def _repeat(
    answerers: dict[str, Callable[[Any], bytes]],
    pool: Sequence[admission_data.Request],
    repetitions: int,
    kinds: list[str],
    samples: dict[str, dict[str, list[float]]],
    names: list[str],
    clock: Callable[[], int],
) -> None:
    for repetition in range(repetitions):
        order = names if repetition % 2 == 0 else names[::-1]
        parsed = []
        per_kind: dict[str, list[int]] = {kind: [] for kind in kinds}
        for request in pool:
            began = clock()
            review = json.loads(request.body)
            per_kind[request.kind].append(clock() - began)
            parsed.append(review)
        _collect(samples["json.loads"], per_kind, len(pool))
        for name in order:
            answer = answerers[name]
            per_kind = {kind: [] for kind in kinds}
            for request, review in zip(pool, parsed, strict=True):
                began = clock()
                answer(review)
                per_kind[request.kind].append(clock() - began)
            _collect(samples[name], per_kind, len(pool))


def _collect(into: dict[str, list[float]], per_kind: dict[str, list[int]], total: int) -> None:
    """One repetition: mean µs per request, per kind and over the whole mix."""
    for kind, values in per_kind.items():
        into[kind].append(sum(values) / len(values) / 1000)
    into["all"].append(sum(sum(values) for values in per_kind.values()) / total / 1000)


def table(result: dict[str, Any]) -> str:
    costs = result["us_per_request"]
    names = list(costs)
    kinds = list(costs[names[0]])
    width = max(len(n) for n in names) + 2
    lines = [f"{'kind':<20}" + "".join(f"{n:>{width}}" for n in names), "-" * (20 + width * len(names))]
    for kind in kinds:
        lines.append(f"{kind:<20}" + "".join(f"{costs[n][kind]:>{width}.1f}" for n in names))
    lines.append("(µs of thread CPU per request, median of the repetitions; 'all' is the mix)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--compare-ref", help="also measure the reviewer of this git ref")
    parser.add_argument("--requests", type=int, default=2000, help="distinct requests in the pool")
    parser.add_argument("--repetitions", type=int, default=9)
    parser.add_argument("--output", help="where the JSON goes (default: bench/results/review-cost.json)")
    args = parser.parse_args(argv)

    from otelwire.webhook import reviewing

    started = datetime.datetime.now(datetime.UTC)
    pool = admission_data.requests(args.requests)
    with tempfile.TemporaryDirectory(prefix="otelwire-review-cost-") as tmp:
        answerers = {"otelwire": _answerer(reviewing, admission_data.build_index())}
        if args.compare_ref:
            module = _module_from_ref(args.compare_ref, Path(tmp))
            answerers[f"otelwire@{args.compare_ref}"] = _answerer(module, admission_data.build_index())
        costs = measure(answerers, pool, args.repetitions)
    result = {
        "benchmark": "review-cost",
        "timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "requests": args.requests,
        "repetitions": args.repetitions,
        "us_per_request": costs,
    }
    written = recording.record("review-cost", result, output=args.output)
    print(table(result))
    print(f"\nwritten: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
