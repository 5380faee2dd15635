"""JSON decoding on the hot paths: orjson, with the standard library's answer wherever they differ.

The webhook decodes every AdmissionReview and the pod watch every pod it
lists or is sent.  orjson does that in about 40 % of ``json.loads``' CPU
time (docs/benchmarks.md).  It is stricter or different in a few corners:
it refuses NaN, Infinity, lone surrogates and non-UTF-8 input (``json``
accepts them), and it decodes an integer beyond 64 bits as a float, where
``json`` keeps it exact.  Input orjson refuses, and input with a run of 19
digits (the shortest such integer is -9223372036854775809), is decoded by
``json.loads`` instead: ``loads`` accepts what ``json.loads`` accepts, returns what it
returns, and raises its ``ValueError`` where both refuse.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))  # every digit a "0", all else a space
_LONG_RUN = b"0" * 19  # 19 digits in a row: possibly an integer orjson would turn into a float


def loads(raw: bytes) -> Any:
    """``json.loads(raw)``, faster."""
    if _LONG_RUN not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)
