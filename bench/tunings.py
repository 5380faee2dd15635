"""``otelwire`` with one of its kopf tunings undone, so that a benchmark can show what the tuning pays.

    python bench/tunings.py kopf-storages run --kubeconfig ...     # kopf's own diff-base and progress storages

Everything after the tuning's name is ``otelwire``'s command line.  The other
tuning, how long an idle kopf worker keeps its object's last event, is an option
(``OTELWIRE_WORKER_IDLE_TIMEOUT``; kopf's default is 5 s) and needs no launcher.
``bench/memory.py`` and ``bench/convergence.py`` run these side by side with the
operator as shipped (``--tunings``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType


def kopf_storages() -> None:
    """kopf's ``StatusDiffBaseStorage``/``StatusProgressStorage`` in place of the lean ones, same fields."""
    import otelwire.cli.run as run

    shipped = run.import_operator

    def import_operator() -> ModuleType:
        kopf = shipped()
        import otelwire.handlers.settings as settings

        vars(settings).update(
            LeanDiffBaseStorage=kopf.StatusDiffBaseStorage, LeanProgressStorage=kopf.StatusProgressStorage
        )
        return kopf

    run.import_operator = import_operator


TUNINGS: dict[str, Callable[[], None]] = {"kopf-storages": kopf_storages}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in TUNINGS:
        print(f"usage: tunings.py {{{','.join(TUNINGS)}}} OTELWIRE-ARGS...", file=sys.stderr)
        return 2
    TUNINGS[args[0]]()
    from otelwire.cli.main import main as otelwire

    return otelwire(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
