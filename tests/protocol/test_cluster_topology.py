"""Slot maps from hand-written ``CLUSTER SHARDS`` / ``CLUSTER SLOTS`` replies, in every shape.

Each reply is written once as RESP3 with decoded text and turned into the four shapes a
connection can deliver: RESP3 maps or RESP2 flat lists, ``str`` or ``bytes``.
"""

from __future__ import annotations

import pytest

from anyredis_auth.protocol import ProtocolError
from anyredis_auth.protocol._cluster_slots import SLOT_COUNT
from anyredis_auth.protocol._cluster_topology import (
    PRIMARY,
    REPLICA,
    ClusterNode,
    Shard,
    SlotMap,
    parse_cluster_shards,
    parse_cluster_slots,
)
from tests.protocol._shapes import SHAPE_IDS, SHAPES, shaped


def node(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x",
        "port": 7000,
        "ip": "10.0.0.1",
        "endpoint": "10.0.0.1",
        "role": "master",
        "replication-offset": 72156,
        "health": "online",
    }
    base.update(fields)
    return base


SHARDS = [
    {
        "slots": [0, 5460],
        "nodes": [
            node(id="a1", port=7000, **{"tls-port": 7100}),
            node(id="a2", port=7001, ip="10.0.0.2", endpoint="10.0.0.2", role="replica"),
            node(id="a3", port=7002, role="replica", health="failed"),
        ],
    },
    {
        "slots": [5461, 10000, 10002, 10922],  # two ranges; slot 10001 is elsewhere
        "nodes": [
            node(id="b2", port=7004, role="replica", health="loading"),
            node(
                id="b1", port=7003, hostname="b1.cache.example.net", endpoint="b1.cache.example.net"
            ),
            node(id="b3", port=7005, ip="", endpoint="?", role="replica"),
        ],
    },
    {
        "slots": [10923, 16383, 10001, 10001],
        "nodes": [node(id="c1", port=7006, ip="fe80::1", endpoint="fe80::1", hostname="")],
        "id": "shard-c",  # Valkey names its shards
    },
]


@pytest.mark.parametrize(("resp", "decoded"), SHAPES, ids=SHAPE_IDS)
def test_cluster_shards_in_every_shape(resp: int, decoded: bool) -> None:
    slot_map = parse_cluster_shards(shaped(SHARDS, resp, decoded), "seed.example.net")
    a1, a2, b1, b3, c1 = slot_map.nodes()
    assert a1 == ClusterNode(
        id="a1",
        host="10.0.0.1",
        port=7000,
        role=PRIMARY,
        tls_port=7100,
        ip="10.0.0.1",
        hostname=None,
        health="online",
        replication_offset=72156,
        slots=((0, 5460),),
    )
    assert a1.address == ("10.0.0.1", 7000)
    assert (a1.port_for(tls=True), a1.port_for(tls=False)) == (7100, 7000)
    assert a2.role == REPLICA and a2.address == ("10.0.0.2", 7001)
    assert a2.port_for(tls=True) == 7001  # no TLS port announced
    # An announced hostname wins over the IP.
    assert b1.address == ("b1.cache.example.net", 7003) and b1.hostname == "b1.cache.example.net"
    assert b1.slots == ((5461, 10000), (10002, 10922))
    # No IP and an unknown endpoint: the address the reply came from.
    assert b3.address == ("seed.example.net", 7005) and b3.ip is None
    # An empty hostname is no hostname; an IPv6 address is kept as it is.
    assert c1.address == ("fe80::1", 7006) and c1.hostname is None
    assert c1.slots == ((10001, 10001), (10923, 16383))
    assert [s.id for s in slot_map.shards] == [None, None, "shard-c"]

    assert slot_map.primary_for(0) == a1 and slot_map.primary_for(5460) == a1
    assert slot_map.replicas_for(100) == (a2,)  # the failed replica is left out
    assert slot_map.primary_for(5461) == b1
    assert slot_map.replicas_for(5461) == (b3,)  # the loading replica is left out
    assert slot_map.primary_for(10001) == c1
    assert slot_map.primary_for(10002) == b1
    assert slot_map.primary_for(SLOT_COUNT - 1) == c1
    assert slot_map.replicas_for(SLOT_COUNT - 1) == ()
    assert slot_map.primaries() == (a1, b1, c1)
    assert slot_map.uncovered_slots() == ()
    assert slot_map.node_at("10.0.0.1", 7100) == a1  # by its TLS port too
    assert slot_map.node_at("10.0.0.1", 7999) is None


def test_uncovered_slots_and_primaryless_shards() -> None:
    shards = [
        {"slots": [0, 99], "nodes": [node(id="p")]},
        {"slots": [200, 299], "nodes": [node(id="r", role="replica")]},  # primary gone
    ]
    slot_map = parse_cluster_shards(shards, "seed")
    assert slot_map.primary_for(50) is not None
    assert slot_map.primary_for(150) is None and slot_map.replicas_for(150) == ()
    assert slot_map.primary_for(250) is None
    assert [n.id for n in slot_map.replicas_for(250)] == ["r"]
    assert slot_map.uncovered_slots() == ((100, SLOT_COUNT - 1),)
    assert [n.id for n in slot_map.primaries()] == ["p"]


def test_a_healthy_primary_wins_over_a_failed_one() -> None:
    shards = [
        {
            "slots": [0, SLOT_COUNT - 1],
            "nodes": [node(id="old", health="failed"), node(id="new", port=7001)],
        }
    ]
    primary = parse_cluster_shards(shards, "seed").primary_for(0)
    assert primary is not None and primary.id == "new"


def test_a_node_with_no_slots_is_listed_but_serves_nothing() -> None:
    shards = [
        {"slots": [0, SLOT_COUNT - 1], "nodes": [node(id="p")]},
        {"slots": [], "nodes": [node(id="empty", port=7009)]},
    ]
    slot_map = parse_cluster_shards(shards, "seed")
    assert [n.id for n in slot_map.nodes()] == ["p", "empty"]
    assert [n.id for n in slot_map.primaries()] == ["p"]


SLOTS = [
    [0, 5460, ["10.0.0.1", 7000, "a1", {}], ["10.0.0.2", 7001, "a2", {"hostname": "a2.example"}]],
    [5461, 10000, ["b1.example", 7003, "b1", {"ip": "10.0.0.3"}]],
    [10923, 16383, ["", 7006, "c1", {}]],
    [10001, 10922, ["b1.example", 7003, "b1", {"ip": "10.0.0.3"}]],  # touches 5461-10000
]


@pytest.mark.parametrize(("resp", "decoded"), SHAPES, ids=SHAPE_IDS)
def test_cluster_slots_in_every_shape(resp: int, decoded: bool) -> None:
    slot_map = parse_cluster_slots(shaped(SLOTS, resp, decoded), "seed.example.net")
    a1, a2, b1, c1 = slot_map.nodes()
    assert (a1.address, a1.ip, a1.hostname, a1.role) == (
        ("10.0.0.1", 7000),
        "10.0.0.1",
        None,
        PRIMARY,
    )
    assert (a2.address, a2.hostname, a2.role) == (("a2.example", 7001), "a2.example", REPLICA)
    assert a2.slots == ((0, 5460),)
    # Endpoint type "hostname": the endpoint is the name, the IP comes in the metadata.
    assert (b1.host, b1.ip) == ("b1.example", "10.0.0.3")
    assert b1.slots == ((5461, 10922),)  # two touching ranges joined
    assert c1.address == ("seed.example.net", 7006)  # an empty endpoint: the seed's host
    assert slot_map.primary_for(10001) == b1
    assert slot_map.replicas_for(0) == (a2,)
    assert slot_map.uncovered_slots() == ()


def test_cluster_slots_without_ids_or_metadata() -> None:
    # Old servers: [host, port] only. Primaries are told apart by address.
    reply = [[0, 8191, [b"10.0.0.1", 7000]], [8192, 16383, [b"10.0.0.2", 7000]]]
    slot_map = parse_cluster_slots(reply, "seed")
    assert [n.address for n in slot_map.primaries()] == [("10.0.0.1", 7000), ("10.0.0.2", 7000)]
    assert all(n.id == "" for n in slot_map.nodes())


def test_with_moved_points_one_slot_elsewhere() -> None:
    slot_map = parse_cluster_shards(SHARDS, "seed")
    a1 = slot_map.primary_for(0)
    b1 = slot_map.primary_for(6000)
    assert a1 is not None and b1 is not None
    moved = slot_map.with_moved(0, b1.host, b1.port)
    assert moved.primary_for(0) == b1 and moved.primary_for(1) == a1
    assert slot_map.primary_for(0) == a1  # the original map is unchanged
    unknown = slot_map.with_moved(5, "10.9.9.9", 7777)
    new = unknown.primary_for(5)
    assert new is not None and new.address == ("10.9.9.9", 7777) and new.id == ""
    assert unknown.nodes()[-1] == new
    via_tls = slot_map.with_moved(6000, "10.0.0.1", 7100)
    assert via_tls.primary_for(6000) == a1


def test_from_shards_builds_the_index() -> None:
    primary = ClusterNode("p", "h", 1, slots=((10, 20),))
    slot_map = SlotMap.from_shards([Shard(primary, (), ((10, 20),))])
    assert slot_map.primary_for(15) == primary and slot_map.primary_for(21) is None
    assert SlotMap((Shard(primary, (), ((10, 20),)),)).primary_for(10) == primary


@pytest.mark.parametrize(
    "reply",
    [
        b"not a list",
        [b"not a map entry"],
        [{"slots": [0], "nodes": []}],  # odd slot list
        [{"slots": [0, 16384], "nodes": []}],  # out of range
        [{"slots": [5, 4], "nodes": []}],  # reversed
        [{"slots": [0, 1], "nodes": "x"}],
        [{"slots": [0, 1], "nodes": [{"id": "a", "port": "seven"}]}],
    ],
)
def test_malformed_cluster_shards_is_a_protocol_error(reply: object) -> None:
    with pytest.raises(ProtocolError):
        parse_cluster_shards(reply, "seed")


@pytest.mark.parametrize(
    "reply",
    [None, [[0, 1]], [[0, 20000, [b"h", 1]]], [[0, 1, b"h"]], [[0, 1, [b"h", 1, b"id", [b"odd"]]]]],
)
def test_malformed_cluster_slots_is_a_protocol_error(reply: object) -> None:
    with pytest.raises(ProtocolError):
        parse_cluster_slots(reply, "seed")
