"""The cluster-wide generators: the chrony DaemonSet and the alias rules.

The generated chrony.conf is checked by the real ``chronyd -p`` (Debian's
chrony, installed by scripts/system-deps.sh) and the readiness probe's shell
is run for real against ``chronyc tracking`` outputs, so "Ready" provably
means "within maxSkew".
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from otelwire import generated
from otelwire.cli import placing
from otelwire.clusterwide import chrony, renaming
from otelwire.spec import MonitoredService, parse_monitored_service

CHRONYD = shutil.which("chronyd") or "/usr/sbin/chronyd"


def ms(name: str, namespace: str = "shop", **spec: Any) -> MonitoredService:
    return parse_monitored_service({"metadata": {"name": name, "namespace": namespace}, "spec": spec})


def test_nobody_wants_chrony_means_no_objects() -> None:
    assert chrony.wanted([ms("a"), ms("b")]) is None


def test_the_strictest_max_skew_wins_and_disagreeing_selectors_mean_all_nodes() -> None:
    plan = chrony.wanted(
        [
            ms("a", clock={"sync": "chrony", "maxSkew": "250ms", "nodeSelector": {"pool": "a"}}),
            ms("b", clock={"sync": "chrony", "maxSkew": "2s", "nodeSelector": {"pool": "b"}}),
            ms("c"),
        ]
    )
    assert plan is not None
    assert plan.max_skew_ms == 250
    assert plan.node_selector == {}
    assert plan.wanted_by == ("shop/a", "shop/b")


def test_the_daemonset_has_only_sys_time_and_tolerates_every_node() -> None:
    plan = chrony.wanted([ms("a", clock={"sync": "chrony", "nodeSelector": {"kubernetes.io/os": "linux"}})])
    assert plan is not None
    configmap, daemonset = chrony.objects(plan, "otelwire-system", "example/chrony:1", ["time.example.com"])
    assert configmap["kind"] == "ConfigMap" and daemonset["kind"] == "DaemonSet"
    pod = daemonset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["SYS_TIME"]}
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert "hostNetwork" not in pod and "hostPID" not in pod
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"name": "MAX_SKEW_SECONDS", "value": "0.100"} in container["env"]
    assert daemonset["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "otelwire"


@pytest.mark.parametrize(
    ("flags", "priority"),
    [
        pytest.param([], None, id="none-by-default"),
        pytest.param(["--chrony-priority-class", "system-node-critical"], "system-node-critical", id="flag"),
    ],
)
def test_the_chrony_pods_get_a_priority_class_only_when_asked(flags: list[str], priority: str | None) -> None:
    """system-node-critical outside kube-system needs a ResourceQuota on some clusters (docs/clock.md, Priority)."""
    parser = argparse.ArgumentParser()
    placing.add_arguments(parser)
    options = placing.options(parser.parse_args(flags))
    objects = generated.chrony_objects([ms("a", clock={"sync": "chrony"})], options)
    (daemonset,) = [o for o in objects if o["kind"] == "DaemonSet"]
    assert daemonset["metadata"]["namespace"] == "otelwire-chrony"
    assert daemonset["spec"]["template"]["spec"].get("priorityClassName") == priority


@pytest.mark.binaries  # Debian's chronyd (make system-deps)
@pytest.mark.parametrize(
    "servers",
    [pytest.param([], id="defaults"), pytest.param(["time.example.com", "pool.ntp.org"], id="custom")],
)
def test_the_generated_chrony_conf_is_accepted_by_real_chronyd(tmp_path: Path, servers: list[str]) -> None:
    conf = tmp_path / "chrony.conf"
    conf.write_text(chrony.chrony_conf(servers))
    result = subprocess.run([CHRONYD, "-p", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for server in servers or chrony.DEFAULT_SERVERS:
        assert server in result.stdout


@pytest.mark.binaries  # Debian's chronyd (make system-deps)
def test_real_chronyd_rejects_a_broken_conf(tmp_path: Path) -> None:
    """The check above can fail: chronyd -p does judge the file."""
    conf = tmp_path / "chrony.conf"
    conf.write_text(chrony.chrony_conf([]) + "notadirective 1\n")
    assert subprocess.run([CHRONYD, "-p", "-f", str(conf)], capture_output=True, timeout=30).returncode != 0


TRACKING = """Reference ID    : C0A80001 (time.example.com)
Stratum         : 3
Ref time (UTC)  : Thu Nov 26 00:40:00 2026
System time     : {offset} seconds {direction} of NTP time
Last offset     : +0.000001000 seconds
RMS offset      : 0.000010000 seconds
Frequency       : 1.000 ppm slow
Residual freq   : +0.000 ppm
Skew            : 0.010 ppm
Root delay      : 0.001000000 seconds
Root dispersion : 0.001000000 seconds
Update interval : 64.0 seconds
Leap status     : {leap}
"""


@pytest.mark.parametrize(
    ("offset", "direction", "leap", "max_skew", "ready"),
    [
        pytest.param("0.000012345", "fast", "Normal", "0.100", True, id="tiny-offset"),
        pytest.param("0.099000000", "slow", "Normal", "0.100", True, id="just-inside"),
        pytest.param("0.150000000", "fast", "Normal", "0.100", False, id="too-fast"),
        pytest.param("0.150000000", "slow", "Normal", "0.100", False, id="too-slow"),
        pytest.param("0.000000001", "fast", "Not synchronised", "0.100", False, id="not-synchronised"),
        pytest.param("1.500000000", "fast", "Normal", "2.000", True, id="loose-skew"),
    ],
)
def test_readiness_means_within_max_skew(
    tmp_path: Path, offset: str, direction: str, leap: str, max_skew: str, ready: bool
) -> None:
    fake = tmp_path / "chronyc"
    fake.write_text(
        "#!/bin/sh\ncat <<'EOF'\n" + TRACKING.format(offset=offset, direction=direction, leap=leap) + "EOF\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "MAX_SKEW_SECONDS": max_skew}
    result = subprocess.run(["/bin/sh", "-c", chrony.READY_SCRIPT], env=env, timeout=10)
    assert (result.returncode == 0) is ready


def test_aliases_become_rules_and_ambiguous_ones_are_reported_on_every_claimant() -> None:
    services = [
        ms("order-service", aliases=["order_service", "OrderService", "shared"]),
        ms("billing", aliases=["shared", "BillingService"]),
        ms("cart", namespace="web", aliases=["billing"]),
    ]
    found = renaming.renaming(services)
    assert found.rules == {
        "order_service": "order-service",
        "OrderService": "order-service",
        "BillingService": "billing",
    }
    assert any("'shared'" in note and "shop/billing" in note for note in found.conflicts["shop/order-service"])
    assert any("'shared'" in note and "shop/order-service" in note for note in found.conflicts["shop/billing"])
    assert any("service name of shop/billing" in note for note in found.conflicts["web/cart"])


def test_the_collector_snippet_is_a_transform_processor_with_ottl_statements() -> None:
    snippet = renaming.processor_snippet({"order_service": "order-service", "OrderService": "order-service"})
    processor = yaml.safe_load(snippet)["processors"][renaming.PROCESSOR]
    assert processor["error_mode"] == "ignore"
    for signal in ("trace_statements", "metric_statements", "log_statements"):
        assert processor[signal] == [
            {
                "context": "resource",
                "statements": [
                    'set(resource.attributes["service.name"], "order-service") '
                    'where resource.attributes["service.name"] == "OrderService"',
                    'set(resource.attributes["service.name"], "order-service") '
                    'where resource.attributes["service.name"] == "order_service"',
                ],
            }
        ]
    # Written out three times, as a person would: no YAML anchor (&id001) nor alias (*id001).
    assert "&" not in snippet and "*" not in snippet
    configmap = renaming.configmap({}, "rules", "otelwire-system")
    empty = yaml.safe_load(configmap["data"][renaming.DATA_KEY])["processors"][renaming.PROCESSOR]
    assert empty["trace_statements"] == empty["metric_statements"] == empty["log_statements"] == []


# What otelwire writes for an alias: an OTTL string literal, then every "$" doubled for the collector's resolver.
@pytest.mark.parametrize(
    ("alias", "written"),
    [
        ("order_service", '"order_service"'),
        ('we"ird', r'"we\"ird"'),
        ("back\\slash", r'"back\\slash"'),
        ("\\u0041", r'"\\u0041"'),
        ("bell\a", r'"bell\u0007"'),
        ("注文サービス", '"注文サービス"'),
        ("${PAYMENT_SVC}", '"$${PAYMENT_SVC}"'),
        ("${file:/etc/hostname}", '"$${file:/etc/hostname}"'),
        ("${billing:v1}", '"$${billing:v1}"'),
        ("pay$$svc", '"pay$$$$svc"'),
        ("$${PAYMENT_SVC}", '"$$$${PAYMENT_SVC}"'),
        ("a$", '"a$$"'),
        ("$", '"$$"'),
    ],
)
def test_an_alias_is_quoted_for_ottl_then_escaped_for_the_collector_config(alias: str, written: str) -> None:
    (statement,) = yaml.safe_load(renaming.processor_snippet({alias: "payments"}))["processors"][renaming.PROCESSOR][
        "trace_statements"
    ][0]["statements"]
    assert statement == (
        f'set(resource.attributes["service.name"], "payments") where resource.attributes["service.name"] == {written}'
    )


TRICKY = ["", "$", "$$", "$$$", "${A}", "$${A}", "$$${A}", "${env:A}$", "}${", "a$b${c}d$$", 'x"\\y', "\x00\x7f\u2028"]


@pytest.mark.parametrize("text", TRICKY)
def test_the_collector_resolver_gives_back_what_otelwire_wrote(text: str) -> None:
    # The rules of go.opentelemetry.io/collector/confmap (v1.67.0, expand.go and resolver.go): "${" preceded
    # by an odd number of "$" is not expanded, and afterwards every "$$" becomes "$".
    written = renaming.config_literal(text)
    for at in range(len(written)):
        if written.startswith("${", at):
            dollars = len(written[:at]) - len(written[:at].rstrip("$"))
            assert dollars % 2 == 1, f"{written!r} would expand the reference at {at}"
    assert written.replace("$$", "$") == text


@pytest.mark.parametrize("text", TRICKY)
def test_an_ottl_string_literal_reads_back_as_the_text(text: str) -> None:
    # OTTL unquotes string literals as Go does (strconv.Unquote); for the escapes otelwire writes
    # (\" \\ \uXXXX \UXXXXXXXX) a Python string literal reads the same.
    literal = renaming.ottl_string(text)
    assert literal.isprintable()
    assert ast.literal_eval(literal) == text
