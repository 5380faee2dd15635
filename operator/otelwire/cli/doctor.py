"""``otelwire doctor``: find the silent observability failures in manifests."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import TYPE_CHECKING

from otelwire.cli.reading import ReadError, read_documents

if TYPE_CHECKING:  # the checks are imported when doctor runs: `otelwire run` starts without them
    from otelwire.doctor import Finding

_MARK = {"error": "ERROR", "warning": "WARN ", "info": "info "}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "doctor",
        help="report observability problems in manifests or a live cluster (exit 1 when any)",
        description=(
            "Check workloads (and the MonitoredServices selecting them) for the failures otelwire exists "
            "to prevent: unknown_service, loopback endpoints, Jaeger agent/collector mix-ups, missing "
            "propagators, double metrics, names that disagree. Without -f, reads a live cluster (kubeconfig) "
            "and adds what only it shows: pods without the plan, outdated pods, unreachable collectors. "
            "Exit 1 when errors or warnings are found."
        ),
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        metavar="FILE",
        help="YAML file or directory (repeatable); - reads stdin. Without -f: the live cluster",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        help="offline: namespace for objects that name none (default: default); "
        "cluster: only these namespaces (repeatable; default: all)",
    )
    parser.add_argument("--kubeconfig", help="cluster mode: kubeconfig (default: in-cluster, then $KUBECONFIG)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(run=run)


def format_text(findings: list[Finding]) -> str:
    lines: list[str] = []
    current = None
    for finding in findings:
        if finding.resource != current:
            current = finding.resource
            lines.append(f"{current}")
        where = f"[{finding.container}] " if finding.container else ""
        lines.append(f"  {_MARK[finding.severity]} {finding.check}: {where}{finding.message}")
        lines.append(f"        fix: {finding.fix}")
    counts = Counter(f.severity for f in findings)
    lines.append(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)")
    return "\n".join(lines) + "\n"


def _findings(args: argparse.Namespace) -> list[Finding]:
    if args.filename:
        from otelwire.doctor import diagnose

        documents = read_documents(args.filename)
        return diagnose([d.body for d in documents], (args.namespace or ["default"])[0])
    from otelwire.cli.cluster import ClusterUnavailable, diagnose_cluster  # the API client is only needed here

    try:
        return diagnose_cluster(args.kubeconfig, args.namespace or [])
    except ClusterUnavailable as error:
        raise ReadError(f"cannot read the cluster: {error}") from None


def run(args: argparse.Namespace) -> int:
    try:
        findings = _findings(args)
    except ReadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.output == "json":
        counts = Counter(f.severity for f in findings)
        payload = {
            "findings": [f.as_dict() for f in findings],
            "summary": {"errors": counts["error"], "warnings": counts["warning"], "info": counts["info"]},
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(format_text(findings))
    return 1 if any(f.is_problem for f in findings) else 0
