"""``decoding.loads`` is ``json.loads``: same values of the same types, same refusals.

A table of the corners where orjson and ``json`` differ, and random documents
built from the values an AdmissionReview or a pod can carry.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from typing import Any

import orjson
import pytest
from otelwire import decoding


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0), and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


CORNERS: list[tuple[str, bytes]] = [
    ("duplicate keys keep the last, in first position", b'{"a":1,"b":2,"a":3}'),
    ("NaN", b'{"x":NaN}'),
    ("Infinity", b"[Infinity,-Infinity]"),
    ("a float beyond double range", b"[1e400]"),
    ("a float rounding up past the largest double", b"[1.7976931348623159e308]"),
    ("floats underflowing to zero", b"[1e-400,-1e-400,5e-324]"),
    ("an integer beyond 64 bits", b'{"uid":123456789012345678901234567890}'),
    ("an integer just beyond unsigned 64 bits", b"[18446744073709551616]"),
    ("the largest unsigned 64-bit integer", b"[18446744073709551615]"),
    ("a negative integer beyond 64 bits", b"[-92233720368547758090]"),
    ("the smallest signed 64-bit integer", b"[-9223372036854775808]"),
    ("one below it", b"[-9223372036854775809]"),
    ("the largest 19-digit integer, negative", b"[-9999999999999999999]"),
    ("19 digits inside a string only", b'{"name":"pod-1234567890123456789"}'),
    ("a lone surrogate escape", b'["\\ud800"]'),
    ("a UTF-8 byte-order mark", "\ufeff{}".encode()),
    ("UTF-16 with a byte-order mark", '{"\u00e9":1}'.encode("utf-16")),
    ("NUL escaped", b'["\\u0000"]'),
    ("negative zero", b"[-0.0]"),
    ("exponent forms", b"[1E2,1e-2,2.5E+3]"),
    ("the next double after 1", b"[1.0000000000000002]"),
    ("many digits of a float", b"[0.1000000000000000055511151231257827021181583404541015625]"),
    ("whitespace around", b" \n {} \t"),
    ("unicode text", '{"label":"caf\u00e9 \u2603 \U0001f600"}'.encode()),
    ("deep but valid nesting", b"[" * 200 + b"]" * 200),
]

REFUSED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("trailing garbage", b'{"a":1}x'),
    ("truncated", b'{"request":{"uid":"u"'),
    ("single quotes", b"{'a':1}"),
    ("invalid UTF-8", b'{"a":"\xff"}'),
    ("a bare word", b"undefined"),
]


@pytest.mark.parametrize(("raw"), [raw for _, raw in CORNERS], ids=[name for name, _ in CORNERS])
def test_corners_decode_as_json_decodes_them(raw: bytes) -> None:
    assert same(decoding.loads(raw), json.loads(raw))


@pytest.mark.parametrize(("raw"), [raw for _, raw in REFUSED], ids=[name for name, _ in REFUSED])
def test_what_json_refuses_is_refused_with_its_error(raw: bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(raw)
    with pytest.raises(ValueError) as got:
        decoding.loads(raw)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


def test_the_table_reaches_both_paths() -> None:
    """Some corners are orjson's to decode and some are the fallback's, or the table tests one path only."""
    decoded_by_orjson = 0
    for _, raw in CORNERS:
        with contextlib.suppress(orjson.JSONDecodeError):
            decoded_by_orjson += same(orjson.loads(raw), json.loads(raw))
    assert 0 < decoded_by_orjson < len(CORNERS)


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        bits = rng.choice((40, 63, 64, 70))
        return rng.randint(-(2**bits) - 2, 2**bits + 2)
    if kind == 2:
        return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)
    if kind == 3:
        return float(rng.randint(-1000, 1000))
    if kind in (4, 5):
        alphabet = 'abcXYZ-_./:= 0123456789\u00e9\u4e2d\U0001f600"\\\n\t'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
    if kind in (6, 7):
        return {f"k{rng.randrange(50)}": _value(rng, depth + 1) for _ in range(5)}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(6))]


def test_random_documents_decode_as_json_decodes_them() -> None:
    rng = random.Random(20261127)
    for _ in range(2000):
        document = {"request": _value(rng, 0)}
        for raw in (json.dumps(document).encode(), json.dumps(document, ensure_ascii=False).encode()):
            assert same(decoding.loads(raw), json.loads(raw)), raw[:200]
