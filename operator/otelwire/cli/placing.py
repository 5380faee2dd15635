"""Where the operator puts what it creates: flags shared by ``otelwire run`` and ``render --generated``.

Both commands take the same flags with the same defaults -- the defaults of
:class:`otelwire.options.Options` -- so that ``render --generated`` prints the
objects a running operator with the same flags creates.
"""

from __future__ import annotations

import argparse

from otelwire.options import Options

DEFAULTS = Options()

# (flag, Options field, environment variable, help)
FLAGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "--operator-namespace",
        "operator_namespace",
        "OTELWIRE_NAMESPACE",
        "the operator's own namespace, never injected",
    ),
    (
        "--chrony-namespace",
        "chrony_namespace",
        "OTELWIRE_CHRONY_NAMESPACE",
        "namespace of the chrony DaemonSet; it needs Pod Security level privileged (CAP_SYS_TIME)",
    ),
    ("--chrony-image", "chrony_image", "OTELWIRE_CHRONY_IMAGE", "chrony image: needs chronyd, chronyc, sh and awk"),
    (
        "--chrony-servers",
        "chrony_servers",
        "OTELWIRE_CHRONY_SERVERS",
        "comma-separated NTP servers or pools",
    ),
    (
        "--chrony-priority-class",
        "chrony_priority_class",
        "OTELWIRE_CHRONY_PRIORITY_CLASS",
        "PriorityClass of the chrony pods, e.g. system-node-critical (see docs/clock.md)",
    ),
    (
        "--alias-configmap",
        "alias_configmap",
        "OTELWIRE_ALIAS_CONFIGMAP",
        "name of the generated collector rules ConfigMap",
    ),
    (
        "--alias-namespace",
        "alias_namespace",
        "OTELWIRE_ALIAS_NAMESPACE",
        "namespace of that ConfigMap (default: the operator namespace)",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The placement flags, each defaulting to None (= the Options default) so an unset one is known."""
    for flag, field, _, text in FLAGS:
        default = getattr(DEFAULTS, field)
        shown = f" (default: {default})" if default and field != "alias_namespace" else ""
        parser.add_argument(flag, dest=field, default=None, metavar="VALUE", help=text + shown)


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The ``OTELWIRE_*`` variables for the flags that were given."""
    return {env: str(value) for _, field, env, _ in FLAGS if (value := getattr(args, field, None)) is not None}


def options(args: argparse.Namespace) -> Options:
    """The Options these flags describe, the rest at their defaults."""
    return Options.from_env(environment(args))
