"""Cluster key slots: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.

This is the function of the Redis Cluster specification: a key's slot is
``CRC16(key) mod 16384``, where ``key`` is replaced by its *hash tag* when it has one: the bytes
between the first ``{`` and the first ``}`` after it, provided there is at least one byte between
them (``{user}:1`` and ``{user}:2`` share a slot; ``{}x`` and ``x{}`` hash whole).

A key given as ``str``, ``int``, ``float``, ``bytearray`` or ``memoryview`` hashes as the bytes
the command encoder sends for it (`anyredis_auth.protocol.encode_command`): what the server
hashes is what is on the wire.
"""

from __future__ import annotations

import math
from binascii import crc_hqx
from typing import TypeAlias, cast

__all__ = ["SLOT_COUNT", "KeyArg", "crc16", "key_bytes", "key_slot"]

SLOT_COUNT = 16384
"""The number of hash slots of a Redis Cluster."""

KeyArg: TypeAlias = bytes | str | int | float | bytearray | memoryview
"""A key as a command argument."""


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC16/XMODEM of `data` (``crc16(b"123456789") == 0x31C3``)."""
    return crc_hqx(data, 0)


def key_bytes(key: KeyArg) -> bytes:
    """The bytes the command encoder sends for `key` (same rules, same errors)."""
    kind = type(key)
    if kind is bytes:
        return cast(bytes, key)
    if kind is str:
        return cast(str, key).encode()
    if kind is int:
        return b"%d" % cast(int, key)
    if isinstance(key, bool):
        raise TypeError("a key of type bool is refused (send 0/1 or a string)")
    if isinstance(key, float):
        if math.isnan(key):
            raise ValueError("a key that is a float NaN cannot be sent")
        return repr(float(key)).encode()
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if isinstance(key, memoryview):
        return key.tobytes()
    if isinstance(key, int):  # int subclasses (IntEnum): their integer value, as the encoder
        return b"%d" % int(key)
    if isinstance(key, str):  # str subclasses (StrEnum): their string value
        return str.encode(key)
    raise TypeError(
        f"a key of type {type(key).__name__} is refused; "
        "expected bytes, str, int, float, bytearray or memoryview"
    )


def key_slot(key: KeyArg) -> int:
    """The cluster slot (0 to 16383) of `key`, hash tags honoured.

    Raises ``TypeError`` / ``ValueError`` for a key the encoder would refuse (``None``,
    ``bool``, a NaN, a ``str`` with a lone surrogate).
    """
    data = key if type(key) is bytes else key_bytes(key)
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    # binascii's CRC-CCITT with initial value 0 is CRC16/XMODEM, in C: on every command's path.
    return crc_hqx(data, 0) & 0x3FFF
