"""``otelwire render``: print workloads with their MonitoredService's plan applied."""

from __future__ import annotations

import argparse
import sys

import yaml

from otelwire.cli.reading import ReadError, read_documents


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "render",
        help="print workloads with otelwire's injection applied (no cluster needed)",
        description=(
            "Read MonitoredServices and workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, "
            "CronJob, Pod) and print every workload with the plan of the MonitoredService that selects it "
            "applied. Warnings go to stderr; an invalid MonitoredService exits 2."
        ),
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML file or directory (repeatable); - reads stdin",
    )
    parser.add_argument(
        "-n", "--namespace", default="default", help="namespace for objects that name none (default: default)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="print every input document (MonitoredServices and other kinds unchanged), not only workloads",
    )
    parser.set_defaults(run=run)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a proxy.istio.io/config, a script) as literal blocks, as people write them."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data.strip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def run(args: argparse.Namespace) -> int:
    from otelwire.plan.rendering import render  # imported when render runs: `otelwire run` starts without it

    try:
        documents = read_documents(args.filename)
    except ReadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = render([d.body for d in documents], args.namespace)
    if result.errors:
        for line in result.errors:
            print(f"error: {line}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    chosen = result.documents if args.all else result.workloads
    if chosen:
        sys.stdout.write(yaml.dump_all(chosen, Dumper=_Dumper, sort_keys=False, explicit_start=True))
    return 0
