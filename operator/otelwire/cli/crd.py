"""``otelwire crd``: print the CustomResourceDefinition generated from the model."""

from __future__ import annotations

import argparse
import sys

from otelwire.crd import crd_yaml


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("crd", help="print the MonitoredService CRD generated from the model")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(crd_yaml())
    return 0
