"""Plot an admission benchmark result: latency percentiles and throughput vs concurrency.

.venv/bin/python bench/plot_admission.py [bench/results/admission.json] [-o docs/admission-latency.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
STYLES = {"otelwire": ("tab:blue", "-"), "floor": ("tab:gray", "--")}
PERCENTILES = (("p50_ms", "o"), ("p90_ms", "s"), ("p99_ms", "^"))


def plot(result: dict[str, Any], output: Path) -> None:
    levels = result["levels"]
    concurrency = sorted(int(c) for c in levels)
    names = list(levels[str(concurrency[0])])
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    for index, name in enumerate(names):
        color, style = STYLES.get(name, (f"C{index + 2}", ":"))
        if "+" in name:  # variants (e.g. +uvloop): throughput only, to keep the latency panel readable
            style = "-." if name.startswith("otelwire") else ":"
            throughput.plot(
                concurrency,
                [levels[str(c)][name]["rps"] for c in concurrency],
                linestyle=style,
                marker="x",
                color=color,
                label=name,
            )
            continue
        for key, marker in PERCENTILES:
            values = [levels[str(c)][name][key] for c in concurrency]
            latency.plot(
                concurrency, values, linestyle=style, marker=marker, color=color, label=f"{name} {key[:3]}", alpha=0.9
            )
        throughput.plot(
            concurrency,
            [levels[str(c)][name]["rps"] for c in concurrency],
            linestyle=style,
            marker="o",
            color=color,
            label=name,
        )
    for axis in (latency, throughput):
        axis.set_xscale("log", base=2)
        axis.set_xticks(concurrency, [str(c) for c in concurrency])
        axis.set_xlabel("concurrent clients")
        axis.grid(True, which="both", alpha=0.3)
    latency.set_yscale("log")
    latency.set_ylabel("latency seen by the client (ms)")
    latency.set_title("AdmissionReview latency over TLS (p50 / p90 / p99)")
    latency.legend(fontsize=7, ncol=sum(1 for n in names if "+" not in n))
    throughput.set_ylabel("requests per second")
    throughput.set_ylim(bottom=0)
    throughput.set_title("throughput")
    throughput.legend(fontsize=8)
    machine = result.get("machine", {})
    figure.suptitle(
        f"bench/admission.py, {result.get('timestamp', '')}: {machine.get('nproc')} cores, "
        f"{machine.get('cpu', '')}, Python {machine.get('python', '')}",
        fontsize=9,
    )
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=80)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("result", nargs="?", default=str(HERE / "results" / "admission.json"))
    parser.add_argument("-o", "--output", default=str(HERE.parent / "docs" / "admission-latency.png"))
    args = parser.parse_args(argv)
    plot(json.loads(Path(args.result).read_text()), Path(args.output))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
