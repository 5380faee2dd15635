"""Entry point of the ``otelwire`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from otelwire import __version__
from otelwire.cli import crd, doctor, render, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otelwire",
        description="Wire Kubernetes services into end-to-end observability.",
    )
    parser.add_argument("--version", action="version", version=f"otelwire {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    render.add_parser(sub)
    doctor.add_parser(sub)
    crd.add_parser(sub)
    run.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
