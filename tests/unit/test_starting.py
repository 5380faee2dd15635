"""What ``otelwire run`` imports and registers before kopf runs (cli/run.py ``import_operator``).

Each case that imports runs in a fresh interpreter: what a module imports is
process-wide.  kopf's registry has no public way to list its handlers, so these
tests read its (private) handler collections from ``kopf.get_default_registry()``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_an_operator_serving_a_mounted_certificate_never_imports_cryptography(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").write_text("cert")
    (tmp_path / "tls.key").write_text("key")
    out = _fresh(
        f"""
        import sys
        from pathlib import Path
        from otelwire.cli.run import import_operator
        import_operator()
        from otelwire.webhook import certificates
        cert = certificates.from_files(Path({str(tmp_path / "tls.crt")!r}), Path({str(tmp_path / "tls.key")!r}))
        print(cert.ca_bundle, "cryptography" in sys.modules)
        certificates.self_signed(Path({str(tmp_path / "self")!r}), ["127.0.0.1"])
        print("cryptography" in sys.modules)
        """
    )
    assert out.splitlines() == ["b'cert' False", "True"]


def test_the_registry_holds_otelwires_login_and_handlers_and_no_fallback_login() -> None:
    out = _fresh(
        """
        from otelwire.cli.run import import_operator
        kopf = import_operator()
        registry = kopf.get_default_registry()
        logins = [h for h in registry._activities.get_all_handlers() if h.activity == "authentication"]
        print(",".join(sorted(str(h.id) for h in logins)))
        print(len(registry._changing.get_all_handlers()) > 0)
        """
    )
    logins, has_changing = out.splitlines()
    assert logins == "login"  # otelwire's (handlers/login.py): kopf's fallbacks would choose their own
    assert has_changing == "True"


def test_a_caller_that_imported_the_handlers_keeps_them_registered() -> None:
    out = _fresh(
        """
        import kopf, otelwire.handlers
        before = kopf.get_default_registry()
        from otelwire.cli.run import import_operator
        import_operator()
        print(kopf.get_default_registry() is before)
        """
    )
    assert out == "True"


def test_malloc_arenas_are_bounded_unless_the_environment_says_otherwise() -> None:
    code = "from otelwire.cli.run import limit_malloc_arenas; print(limit_malloc_arenas())"
    glibc = _fresh("import platform; print(platform.libc_ver()[0])") == "glibc"
    assert _fresh(code) == str(glibc)
    env_set = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "MALLOC_ARENA_MAX": "4"},
    )
    assert env_set.stdout.strip() == "False"


def test_kopf_handles_monitoredservices_only_and_never_watches_pods() -> None:
    """Pods are otelwire's own informer (``observe.pods``): a kopf handler on pods would make kopf
    list them too, and hold every listed pod until all its indexes are listed."""
    import kopf
    import otelwire.handlers  # noqa: F401

    registry = kopf.get_default_registry()
    handlers = [
        h
        for part in (registry._indexing, registry._watching, registry._changing, registry._spawning)
        for h in part.get_all_handlers()
    ]
    assert handlers
    assert {h.selector.any_name for h in handlers} == {"monitoredservices"}


def test_only_deletions_reach_the_monitoredservice_event_handler() -> None:
    import kopf
    import otelwire.handlers  # noqa: F401

    (handler,) = [h for h in kopf.get_default_registry()._watching.get_all_handlers() if str(h.id) == "forget_deleted"]
    assert handler.when is not None
    assert handler.when(type="DELETED") is True
    assert handler.when(type="MODIFIED") is False
    assert handler.when(type=None) is False  # a listing
