"""The cluster's slot map, read from ``CLUSTER SHARDS`` (or ``CLUSTER SLOTS``): pure values.

`parse_cluster_shards` and `parse_cluster_slots` take a reply as the parser returns it (RESP3
maps or RESP2 flat lists, ``bytes`` or ``str`` when the connection decodes replies) and the host
the reply came from, and return an immutable `SlotMap`: for each of the 16384 slots its primary
and its healthy replicas, and every node as a `ClusterNode` (address, role, slot ranges).

Which host to connect to, per node: its announced hostname when it has a non-empty one, else its
IP, else its endpoint; an endpoint of ``?`` or an empty one means "the address you reached this
node on", so the `seed_host` of the reply stands in (a lone node that never met another does not
know its own IP). The TLS port is kept beside the plain one (`ClusterNode.port_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .._errors import ProtocolError
from ._cluster_slots import SLOT_COUNT

__all__ = [
    "PRIMARY",
    "REPLICA",
    "ClusterNode",
    "Shard",
    "SlotMap",
    "parse_cluster_shards",
    "parse_cluster_slots",
]

PRIMARY = "primary"
REPLICA = "replica"

SlotRanges = tuple[tuple[int, int], ...]

# Replicas in these states cannot serve reads (CLUSTER SHARDS says "failed"; "fail" is the
# CLUSTER NODES spelling, accepted too).
_UNHEALTHY = frozenset({"fail", "failed", "loading"})


@dataclass(frozen=True)
class ClusterNode:
    """One node of the cluster as the slot map knows it.

    ``host`` and ``port`` are where to connect (see the module documentation for the host
    choice); ``tls_port`` is the node's TLS port when it announces one. ``hostname`` is the
    announced hostname (None when the node announces none: then it is reached by IP, and a TLS
    client verifies it against another name). ``slots`` are the inclusive slot ranges of the
    node's shard (a replica lists those of its primary).
    """

    id: str
    host: str
    port: int
    role: str = PRIMARY
    tls_port: int | None = None
    ip: str | None = None
    hostname: str | None = None
    health: str = "online"
    replication_offset: int | None = None
    slots: SlotRanges = ()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the plain port."""
        return (self.host, self.port)

    @property
    def is_primary(self) -> bool:
        """Whether the node is a primary (it serves its slots' writes)."""
        return self.role == PRIMARY

    def port_for(self, tls: bool) -> int:
        """The port to use: the TLS port over TLS when the node announces one."""
        if tls and self.tls_port:
            return self.tls_port
        return self.port


@dataclass(frozen=True)
class Shard:
    """A primary, its healthy replicas and the slot ranges they serve."""

    primary: ClusterNode | None
    replicas: tuple[ClusterNode, ...] = ()
    slots: SlotRanges = ()
    id: str | None = None


@dataclass(frozen=True)
class SlotMap:
    """Immutable: the shards, and for each slot the shard serving it (None: uncovered).

    Build one with `parse_cluster_shards` / `parse_cluster_slots` (or `from_shards`); a
    ``MOVED`` turns into a new map with `with_moved`.
    """

    shards: tuple[Shard, ...]
    _owners: tuple[Shard | None, ...] = field(repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not self._owners:  # built from shards alone: index them by slot
            owners: list[Shard | None] = [None] * SLOT_COUNT
            for shard in self.shards:
                for start, end in shard.slots:
                    owners[start : end + 1] = [shard] * (end - start + 1)
            object.__setattr__(self, "_owners", tuple(owners))

    @classmethod
    def from_shards(cls, shards: Iterable[Shard]) -> SlotMap:
        """A map of `shards`; a slot claimed twice goes to the later shard."""
        return cls(tuple(shards))

    def shard_for(self, slot: int) -> Shard | None:
        """The shard serving `slot`, or None when no node serves it."""
        return self._owners[slot]

    def primary_for(self, slot: int) -> ClusterNode | None:
        """The primary serving `slot`, or None when no node serves it."""
        shard = self._owners[slot]
        return None if shard is None else shard.primary

    def replicas_for(self, slot: int) -> tuple[ClusterNode, ...]:
        """The healthy replicas of the primary serving `slot` (maybe none)."""
        shard = self._owners[slot]
        return () if shard is None else shard.replicas

    def nodes(self) -> tuple[ClusterNode, ...]:
        """Every node: for each shard, its primary then its replicas."""
        out: list[ClusterNode] = []
        for shard in self.shards:
            if shard.primary is not None:
                out.append(shard.primary)
            out.extend(shard.replicas)
        return tuple(out)

    def primaries(self) -> tuple[ClusterNode, ...]:
        """The primaries that serve at least one slot (the ones ``all_shards`` commands visit)."""
        return tuple(s.primary for s in self.shards if s.primary is not None and s.slots)

    def uncovered_slots(self) -> SlotRanges:
        """The slot ranges no primary serves (empty for a healthy cluster)."""
        return _ranges(i for i, shard in enumerate(self._owners) if shard is None or
                       shard.primary is None)  # fmt: skip

    def node_at(self, host: str, port: int) -> ClusterNode | None:
        """The node reached at ``host:port`` (plain or TLS port), if the map knows it."""
        for node in self.nodes():
            if node.host == host and _serves(node, port):
                return node
        return None

    def with_moved(self, slot: int, host: str, port: int) -> SlotMap:
        """A new map in which `slot` is served by the primary at ``host:port``.

        What a ``MOVED`` says, applied before (or instead of) a full refresh. A node the map
        does not know yet becomes a shard of its own, with no id until the next refresh.
        """
        target: Shard | None = None
        for shard in self.shards:
            primary = shard.primary
            if primary is not None and primary.host == host and _serves(primary, port):
                target = shard
                break
        shards = list(self.shards)
        if target is None:
            node = ClusterNode(id="", host=host, port=port, slots=((slot, slot),))
            target = Shard(node, (), ((slot, slot),))
            shards.append(target)
        owners = list(self._owners)
        owners[slot] = target
        return SlotMap(tuple(shards), tuple(owners))


def _serves(node: ClusterNode, port: int) -> bool:
    return port == node.port or port == node.tls_port


# -- parsing -------------------------------------------------------------------------------------


def parse_cluster_shards(reply: object, seed_host: str) -> SlotMap:
    """Parse a ``CLUSTER SHARDS`` reply (Redis 7+, Valkey) into a `SlotMap`.

    `seed_host` is the host the reply came from: it stands in for an empty or ``?`` endpoint.
    Replicas whose health is ``failed`` or ``loading`` are left out. Raises `ProtocolError`
    for a reply of another shape.
    """
    if not isinstance(reply, list):
        raise ProtocolError(f"CLUSTER SHARDS: expected an array, got {type(reply).__name__}")
    shards: list[Shard] = []
    for raw_shard in reply:
        shard = _as_map(raw_shard, "CLUSTER SHARDS shard")
        ranges = _pairs_to_ranges(shard.get("slots") or [])
        primary: ClusterNode | None = None
        replicas: list[ClusterNode] = []
        raw_nodes = shard.get("nodes") or []
        if not isinstance(raw_nodes, list):
            raise ProtocolError("CLUSTER SHARDS: a shard's nodes are not an array")
        for raw_node in raw_nodes:
            info = _as_map(raw_node, "CLUSTER SHARDS node")
            role = PRIMARY if _text(info.get("role")) in ("master", "primary") else REPLICA
            health = _text(info.get("health")) or "online"
            hostname = _text(info.get("hostname")) or None
            ip = _text(info.get("ip")) or None
            node = ClusterNode(
                id=_text(info.get("id")),
                host=_choose_host(hostname, ip, _text(info.get("endpoint")), seed_host),
                port=_int(info.get("port"), 0),
                role=role,
                tls_port=_int(info.get("tls-port"), 0) or None,
                ip=ip,
                hostname=hostname,
                health=health,
                replication_offset=_opt_int(info.get("replication-offset")),
                slots=ranges,
            )
            if role == PRIMARY:
                # During a failover two nodes may claim the role for a moment: prefer a healthy
                # one, then the first.
                if primary is None or (primary.health in _UNHEALTHY and health not in _UNHEALTHY):
                    primary = node
            elif health not in _UNHEALTHY:
                replicas.append(node)
        shard_id = _text(shard.get("id")) or None
        shards.append(Shard(primary, tuple(replicas), ranges, shard_id))
    return SlotMap.from_shards(shards)


def parse_cluster_slots(reply: object, seed_host: str) -> SlotMap:
    """Parse a ``CLUSTER SLOTS`` reply (the fallback for servers without ``CLUSTER SHARDS``).

    ``CLUSTER SLOTS`` gives one port per node (the one of the connection's kind: the TLS port
    when asked over TLS) and no health: every listed replica is kept.
    """
    if not isinstance(reply, list):
        raise ProtocolError(f"CLUSTER SLOTS: expected an array, got {type(reply).__name__}")
    # Group the ranges by primary (its id, or its address on servers that give no id).
    ranges: dict[object, list[tuple[int, int]]] = {}
    members: dict[object, tuple[ClusterNode, list[ClusterNode]]] = {}
    for entry in reply:
        if not isinstance(entry, list) or len(entry) < 3:
            raise ProtocolError("CLUSTER SLOTS: an entry is not [start, end, primary, ...]")
        start, end = _int(entry[0], -1), _int(entry[1], -1)
        if not 0 <= start <= end < SLOT_COUNT:
            raise ProtocolError("CLUSTER SLOTS: a slot range is out of bounds")
        primary = _slots_node(entry[2], PRIMARY, seed_host)
        key: object = primary.id or primary.address
        ranges.setdefault(key, []).append((start, end))
        if key not in members:
            replicas = [_slots_node(raw, REPLICA, seed_host) for raw in entry[3:]]
            members[key] = (primary, replicas)
    shards = []
    for key, (primary, replicas) in members.items():
        slot_ranges = _ranges_of(ranges[key])
        shards.append(
            Shard(
                _with_slots(primary, slot_ranges),
                tuple(_with_slots(r, slot_ranges) for r in replicas),
                slot_ranges,
            )
        )
    return SlotMap.from_shards(shards)


def _slots_node(raw: object, role: str, seed_host: str) -> ClusterNode:
    if not isinstance(raw, list) or len(raw) < 2:
        raise ProtocolError("CLUSTER SLOTS: a node is not [endpoint, port, ...]")
    endpoint = _text(raw[0])
    meta = _as_map(raw[3], "CLUSTER SLOTS node metadata") if len(raw) > 3 else {}
    hostname = _text(meta.get("hostname")) or None
    ip = _text(meta.get("ip")) or None
    if endpoint not in ("", "?"):
        if "ip" in meta and hostname is None:
            # The metadata carries the IP only when the endpoint is something else: the
            # node's hostname (cluster-preferred-endpoint-type hostname).
            hostname = endpoint
        elif ip is None:
            ip = endpoint  # otherwise the endpoint is the IP (the default endpoint type)
    return ClusterNode(
        id=_text(raw[2]) if len(raw) > 2 else "",
        host=_choose_host(hostname, ip, endpoint, seed_host),
        port=_int(raw[1], 0),
        role=role,
        ip=ip,
        hostname=hostname,
    )


def _with_slots(node: ClusterNode, slots: SlotRanges) -> ClusterNode:
    return ClusterNode(
        id=node.id,
        host=node.host,
        port=node.port,
        role=node.role,
        tls_port=node.tls_port,
        ip=node.ip,
        hostname=node.hostname,
        health=node.health,
        replication_offset=node.replication_offset,
        slots=slots,
    )


def _choose_host(hostname: str | None, ip: str | None, endpoint: str, seed_host: str) -> str:
    if hostname:
        return hostname
    if ip and ip != "?":
        return ip
    if endpoint and endpoint != "?":
        return endpoint
    return seed_host


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _int(value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(_text(value))
    except ValueError:
        raise ProtocolError("cluster reply: expected an integer") from None


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value, 0)


def _as_map(value: object, what: str) -> dict[str, object]:
    """A RESP3 map or a RESP2 flat ``[key, value, ...]`` list as a dict with ``str`` keys."""
    if isinstance(value, Mapping):
        return {_text(k): v for k, v in value.items()}
    if isinstance(value, list) and len(value) % 2 == 0:
        return {_text(value[i]): value[i + 1] for i in range(0, len(value), 2)}
    raise ProtocolError(f"{what}: expected a map")


def _pairs_to_ranges(flat: object) -> SlotRanges:
    if not isinstance(flat, list) or len(flat) % 2:
        raise ProtocolError("CLUSTER SHARDS: slots are not [start, end, ...]")
    pairs = []
    for i in range(0, len(flat), 2):
        start, end = _int(flat[i], -1), _int(flat[i + 1], -1)
        if not 0 <= start <= end < SLOT_COUNT:
            raise ProtocolError("CLUSTER SHARDS: a slot range is out of bounds")
        pairs.append((start, end))
    return _ranges_of(pairs)


def _ranges_of(pairs: Iterable[tuple[int, int]]) -> SlotRanges:
    """Sorted, with touching or overlapping ranges joined."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if out and start <= out[-1][1] + 1:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def _ranges(slots: Iterable[int]) -> SlotRanges:
    return _ranges_of((s, s) for s in slots)
