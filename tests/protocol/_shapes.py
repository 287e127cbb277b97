"""Reply shapes for the cluster parsers' tests: one RESP3 value written with str, as the four
shapes a server can send (RESP3 or RESP2, decoded or raw bytes)."""

from __future__ import annotations

SHAPES = [(3, True), (3, False), (2, True), (2, False)]
SHAPE_IDS = ["resp3-str", "resp3-bytes", "resp2-str", "resp2-bytes"]


def shaped(value: object, resp: int, decoded: bool) -> object:
    """`value` (RESP3, str) as RESP2 (maps flattened) and/or raw bytes."""
    if isinstance(value, dict):
        items = [(shaped(k, resp, decoded), shaped(v, resp, decoded)) for k, v in value.items()]
        if resp == 3:
            return dict(items)
        return [part for pair in items for part in pair]
    if isinstance(value, list):
        return [shaped(v, resp, decoded) for v in value]
    if isinstance(value, str) and not decoded:
        return value.encode()
    return value
