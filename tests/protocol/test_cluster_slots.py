"""`key_slot`: CRC16/XMODEM mod 16384 with hash tags, keys encoded as the command encoder does."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyredis_auth.protocol import encode_command
from anyredis_auth.protocol._cluster_slots import SLOT_COUNT, crc16, key_bytes, key_slot


def reference_crc16(data: bytes) -> int:
    """Bit by bit, straight from the definition (polynomial 0x1021, initial 0)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def reference_slot(key: bytes) -> int:
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end != -1 and end != start + 1:
            key = key[start + 1 : end]
    return reference_crc16(key) % SLOT_COUNT


def test_crc16_check_value() -> None:
    assert crc16(b"123456789") == 0x31C3  # the CRC16/XMODEM check value (Redis cluster spec)
    assert crc16(b"") == 0


@pytest.mark.parametrize(
    ("key", "slot"),
    [
        ("foo", 12182),  # values from the Redis cluster tutorial / CLUSTER KEYSLOT
        ("bar", 5061),
        ("hello", 866),
        ("somekey", 11058),
        ("{user1000}.following", 3443),
        ("{user1000}.followers", 3443),
        ("user1000", 3443),
    ],
)
def test_known_slots(key: str, slot: int) -> None:
    assert key_slot(key) == slot


@pytest.mark.parametrize(
    ("key", "hashed"),
    [
        (b"foo{bar}zap", b"bar"),
        (b"foo{}{bar}", b"foo{}{bar}"),  # empty tag: the whole key
        (b"foo{{bar}}zap", b"{bar"),  # first { then the first } after it
        (b"foo{bar}{zap}", b"bar"),
        (b"{}", b"{}"),
        (b"}{", b"}{"),
        (b"{a", b"{a"),
        (b"a}", b"a}"),
        (b"{{}}", b"{"),
    ],
)
def test_hash_tag_rules(key: bytes, hashed: bytes) -> None:
    assert key_slot(key) == crc16(hashed) % SLOT_COUNT


class Color(enum.IntEnum):
    RED = 7


class Name(str, enum.Enum):
    ADA = "ada"


@pytest.mark.parametrize(
    ("key", "wire"),
    [
        (b"k", b"k"),
        ("é", "é".encode()),
        (12, b"12"),
        (-3, b"-3"),
        (0.1, b"0.1"),
        (1e16, b"1e+16"),
        (float("inf"), b"inf"),
        (float("-inf"), b"-inf"),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
        (Color.RED, b"7"),
    ],
)
def test_keys_hash_as_the_encoder_sends_them(key: object, wire: bytes) -> None:
    assert key_bytes(key) == wire  # type: ignore[arg-type]
    assert key_slot(key) == key_slot(wire)  # type: ignore[arg-type]


def test_str_enum_hashes_its_value() -> None:
    assert key_slot(Name.ADA) == key_slot("ada")


@pytest.mark.parametrize("key", [None, True, False, [b"k"], {"k": 1}])
def test_refused_key_types(key: object) -> None:
    with pytest.raises(TypeError):
        key_slot(key)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [float("nan"), "\ud800"])
def test_refused_key_values(key: object) -> None:
    with pytest.raises(ValueError):
        key_slot(key)  # type: ignore[arg-type]


def wire_form(arg: object) -> bytes:
    """The argument's payload in the encoded command (the second bulk string)."""
    encoded = encode_command("X", arg)  # type: ignore[arg-type]
    header_end = encoded.index(b"\r\n", encoded.index(b"$", 8)) + 2
    return encoded[header_end:-2]


keys = st.one_of(
    st.binary(max_size=64),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=32),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.binary(max_size=32).map(bytearray),
    st.binary(max_size=32).map(lambda b: memoryview(b)),
)


@settings(max_examples=500, deadline=None)
@given(key=keys)
def test_slot_of_any_key_matches_the_reference(key: object) -> None:
    wire = wire_form(key)
    assert key_bytes(key) == wire  # type: ignore[arg-type]
    assert key_slot(key) == reference_slot(wire)  # type: ignore[arg-type]
    assert 0 <= key_slot(key) < SLOT_COUNT  # type: ignore[arg-type]


tag_part = st.binary(max_size=12)


@settings(max_examples=500, deadline=None)
@given(prefix=tag_part, tag=tag_part.filter(lambda t: b"}" not in t), suffix=tag_part)
def test_keys_sharing_a_hash_tag_share_a_slot(prefix: bytes, tag: bytes, suffix: bytes) -> None:
    key = prefix.replace(b"{", b"") + b"{" + tag + b"}" + suffix
    if tag:
        assert key_slot(key) == key_slot(tag) == key_slot(b"{" + tag + b"}")
    else:
        assert key_slot(key) == reference_slot(key)  # an empty tag hashes the whole key
    assert key_slot(key) == reference_slot(key)
