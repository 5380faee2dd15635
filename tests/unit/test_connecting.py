"""The bound on kopf's API connection pool (``handlers/login.py``)."""

from __future__ import annotations

from otelwire.handlers.login import REQUEST_CONNECTIONS, STREAMS_PER_NAMESPACE, connection_limit
from otelwire.options import Options


def test_clusterwide_gets_requests_plus_one_set_of_streams() -> None:
    assert connection_limit(Options.from_env({})) == REQUEST_CONNECTIONS + STREAMS_PER_NAMESPACE


def test_each_watched_namespace_adds_room_for_its_streams() -> None:
    options = Options.from_env({"OTELWIRE_WATCH_NAMESPACES": "a,b,c"})
    assert connection_limit(options) == REQUEST_CONNECTIONS + 3 * STREAMS_PER_NAMESPACE


def test_namespace_patterns_leave_the_pool_unbounded() -> None:
    assert connection_limit(Options.from_env({"OTELWIRE_WATCH_NAMESPACES": "team-*"})) == 0


def test_explicit_setting_wins() -> None:
    assert (
        connection_limit(Options.from_env({"OTELWIRE_WATCH_NAMESPACES": "a", "OTELWIRE_API_CONNECTIONS": "40"})) == 40
    )
    assert connection_limit(Options.from_env({"OTELWIRE_API_CONNECTIONS": "0"})) == 0
