"""``otelwire render``: print workloads with their MonitoredService's plan applied."""

from __future__ import annotations

import argparse
import sys

import yaml

from otelwire.cli import placing
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
    parser.add_argument(
        "--generated",
        action="store_true",
        help="after the workloads, print every object the operator creates for these MonitoredServices: "
        "PodMonitors (with --podmonitors), dashboard ConfigMaps, the collector rules ConfigMap, the chrony "
        "ConfigMap and DaemonSet",
    )
    parser.add_argument(
        "--podmonitors",
        action="store_true",
        help="render for a cluster running the Prometheus Operator: pods are scraped through a PodMonitor "
        "per service, so they get no prometheus.io annotations",
    )
    placing.add_arguments(parser)
    parser.set_defaults(run=run)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a proxy.istio.io/config, a script) as literal blocks, as people write them;
    an object printed twice is printed twice, not as a YAML alias."""

    def ignore_aliases(self, data: object) -> bool:
        return True


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
    result = render([d.body for d in documents], args.namespace, podmonitors=args.podmonitors)
    if result.errors:
        for line in result.errors:
            print(f"error: {line}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    chosen = result.documents if args.all else result.workloads
    if args.generated:
        from otelwire.generated import generated_objects

        chosen = [*chosen, *generated_objects(result.services, placing.options(args), podmonitors=args.podmonitors)]
    if chosen:
        sys.stdout.write(yaml.dump_all(chosen, Dumper=_Dumper, sort_keys=False, explicit_start=True))
    return 0
