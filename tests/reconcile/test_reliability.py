"""Reliability on the real control plane: bad input, a killed operator, pods it missed.

* A corpus of malformed MonitoredServices: each is rejected at apply time or
  reported ``ConfigValid=False``; the operator never crashes and keeps
  serving a valid neighbour.  Garbage AdmissionReviews get allowed, unpatched
  answers.
* The operator being killed: see test_crash.py.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
import yaml
from plane import Plane

from reconcile.corpus import GARBAGE_REVIEWS, MALFORMED_SERVICES
from reconcile.harness import (
    Collector,
    Operator,
    apply_services_first,
    condition,
    deployment,
    monitored_service,
    msvc,
    wait_for,
)


def test_malformed_monitored_services_are_rejected_or_reported(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("corpus")
    sentinel = monitored_service("sentinel", ns, collector.endpoint)
    apply_services_first(crd, [sentinel, deployment("sentinel", ns, replicas=1)])
    accepted: list[str] = []
    rejected: list[str] = []
    for case, body in MALFORMED_SERVICES:
        body = {**body, "metadata": {**body["metadata"], "namespace": ns}}
        result = crd.kubectl("apply", "-f", "-", input=yaml.safe_dump(body), check=False)
        (accepted if result.returncode == 0 else rejected).append(case)
        if result.returncode != 0:
            assert "Traceback" not in result.stderr
    assert len(MALFORMED_SERVICES) >= 50
    for case, body in MALFORMED_SERVICES:
        if case not in accepted:
            continue
        name = body["metadata"]["name"]
        wait_for(
            f"ConfigValid=False for {case}",
            lambda name=name: condition(msvc(crd, ns, name), "ConfigValid").get("status") == "False",
            60,
            explain=lambda name=name: msvc(crd, ns, name).get("status"),
        )
    assert operator.process is not None and operator.process.poll() is None, operator.tail()
    crd.kubectl(
        "patch", "msvc", "sentinel", "-n", ns, "--type=merge", "-p", '{"spec":{"resourceAttributes":{"k":"v"}}}'
    )
    wait_for(
        "the valid neighbour to keep being reconciled",
        lambda: (
            msvc(crd, ns, "sentinel")["status"].get("observedGeneration")
            == msvc(crd, ns, "sentinel")["metadata"]["generation"]
        ),
        60,
    )
    print(f"rejected at apply: {len(rejected)}, reported ConfigValid=False: {len(accepted)}")


def _webhook_url(plane: Plane) -> str:
    config = plane.kubectl_json("get", "mutatingwebhookconfiguration", "otelwire-local")
    url: str = config["webhooks"][0]["clientConfig"]["url"]
    return url


@pytest.mark.parametrize(("case", "review"), GARBAGE_REVIEWS, ids=[c for c, _ in GARBAGE_REVIEWS])
def test_garbage_admission_reviews_are_allowed_unpatched(
    crd: Plane, operator: Operator, collector: Collector, case: str, review: Any
) -> None:
    crd.create_namespace("sentinel")
    crd.apply(monitored_service("sentinel", "sentinel", collector.endpoint))
    context = ssl._create_unverified_context()
    request = urllib.request.Request(
        _webhook_url(crd), data=json.dumps(review).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["response"]["allowed"] is True
    assert "patch" not in answer["response"], case
    assert operator.process is not None and operator.process.poll() is None


def test_a_body_that_is_not_json_is_a_400_not_a_crash(crd: Plane, operator: Operator) -> None:
    context = ssl._create_unverified_context()
    request = urllib.request.Request(_webhook_url(crd), data=b"{not json", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert error.value.code == 400
