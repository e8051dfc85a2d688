"""Amazon answers' JSON is read by orjson, with the standard library for what orjson refuses: the same results."""

from __future__ import annotations

import json
import math

import pytest

from connectors.amazon.base import _Response


def test_json_reads_as_the_standard_library_does() -> None:
    body = {"orders": [{"orderId": "1", "total": {"amount": "1.50"}, "name": "Zoë"}], "n": 12.5}
    assert _Response(200, content=json.dumps(body).encode()).json() == body
    # What orjson refuses goes to the standard library: NaN, integers beyond 64 bits.
    assert math.isnan(_Response(200, content=b'{"a": NaN}').json()["a"])
    assert _Response(200, content=b'{"a": 18446744073709551616}').json() == {"a": 2**64}
    with pytest.raises(json.JSONDecodeError):
        _Response(200, content=b"<html>not json</html>").json()
