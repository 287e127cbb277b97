"""Geo commands: GEOADD, GEODIST, GEOPOS, GEOSEARCH, ..."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._core import EncodableT, KeyT, Request, command
from ._replies import to_float_or_none, to_int

__all__ = ["LEFT_TO_EXECUTE", "GeoCommands"]

#: Geo commands of ``COMMAND DOCS`` without a method, and why.
LEFT_TO_EXECUTE: dict[str, str] = {
    "GEORADIUS_RO": "deprecated since Redis 6.2 (use geosearch); redis-py has no method for it",
    "GEORADIUSBYMEMBER_RO": (
        "deprecated since Redis 6.2 (use geosearch); redis-py has no method for it"
    ),
}

_UNITS = ("m", "km", "mi", "ft")


def _text(value: Any) -> Any:
    """A geohash as str, as redis-py gives it even without ``decode_responses``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _geohashes(reply: Any) -> list[str | None]:
    return [_text(value) for value in reply]


def _positions(reply: Any) -> list[tuple[float, float] | None]:
    """``(longitude, latitude)`` for each member, None for a missing one."""
    return [None if pos is None else (float(pos[0]), float(pos[1])) for pos in reply]


def _same(value: Any) -> Any:
    return value


def _coordinates(pos: Any) -> tuple[float, float]:
    return float(pos[0]), float(pos[1])


def _search_parser(withdist: bool, withhash: bool, withcoord: bool) -> Callable[[Any], Any] | None:
    """The parser of a GEOSEARCH / GEORADIUS reply with these flags: each match as
    ``[member, dist, hash, (lon, lat)]`` (the flags given only), or members alone."""
    if not (withdist or withhash or withcoord):
        return None
    casts: list[Callable[[Any], Any]] = [_same]
    if withdist:
        casts.append(float)
    if withhash:
        casts.append(int)
    if withcoord:
        casts.append(_coordinates)

    def parse(reply: Any) -> list[Any]:
        return [[cast(part) for cast, part in zip(casts, item, strict=False)] for item in reply]

    return parse


#: One parser per combination of the three flags, built once.
_SEARCH_PARSERS = {
    (dist, hash_, coord): _search_parser(dist, hash_, coord)
    for dist in (False, True)
    for hash_ in (False, True)
    for coord in (False, True)
}


def _geoadd(
    name: KeyT,
    values: Sequence[EncodableT],
    nx: bool = False,
    xx: bool = False,
    ch: bool = False,
) -> Request[int]:
    """GEOADD ``lon, lat, member`` triples: the members added (changed with `ch`)."""
    if nx and xx:
        raise ValueError("GEOADD allows either 'nx' or 'xx', not both")
    if len(values) % 3 != 0:
        raise ValueError("GEOADD requires places with lon, lat and name values")
    args: list[Any] = ["GEOADD", name]
    if nx:
        args.append("NX")
    if xx:
        args.append("XX")
    if ch:
        args.append("CH")
    args += values
    return tuple(args), to_int


def _geodist(
    name: KeyT, place1: EncodableT, place2: EncodableT, unit: str | None = None
) -> Request[float | None]:
    """GEODIST: the distance in `unit` (meters by default), None if a member is missing."""
    if unit:
        if unit not in _UNITS:
            raise ValueError("GEODIST invalid unit")
        return ("GEODIST", name, place1, place2, unit), to_float_or_none
    return ("GEODIST", name, place1, place2), to_float_or_none


def _geohash(name: KeyT, *values: EncodableT) -> Request[list[str | None]]:
    """GEOHASH: each member's geohash as str, None for a missing one."""
    return ("GEOHASH", name, *values), _geohashes


def _geopos(name: KeyT, *values: EncodableT) -> Request[list[tuple[float, float] | None]]:
    """GEOPOS: each member's ``(longitude, latitude)``, None for a missing one."""
    return ("GEOPOS", name, *values), _positions


def _radius(
    args: list[Any],
    unit: str | None,
    withdist: bool,
    withcoord: bool,
    withhash: bool,
    count: int | None,
    sort: str | None,
    store: KeyT | None,
    store_dist: KeyT | None,
    any: bool,
) -> Request[Any]:
    if unit and unit not in _UNITS:
        raise ValueError("GEORADIUS invalid unit")
    args.append(unit or "m")
    if any and count is None:
        raise ValueError("``any`` can't be provided without ``count``")
    if withdist:
        args.append("WITHDIST")
    if withcoord:
        args.append("WITHCOORD")
    if withhash:
        args.append("WITHHASH")
    if count is not None:
        args += ("COUNT", count)
        if any:
            args.append("ANY")
    if sort:
        if sort not in ("ASC", "DESC"):
            raise ValueError("GEORADIUS invalid sort")
        args.append(sort)
    if store and store_dist:
        raise ValueError("GEORADIUS store and store_dist can't be set together")
    if store:
        args += ("STORE", store)
        return tuple(args), None
    if store_dist:
        args += ("STOREDIST", store_dist)
        return tuple(args), None
    return tuple(args), _SEARCH_PARSERS[bool(withdist), bool(withhash), bool(withcoord)]


def _georadius(
    name: KeyT,
    longitude: float,
    latitude: float,
    radius: float,
    unit: str | None = None,
    withdist: bool = False,
    withcoord: bool = False,
    withhash: bool = False,
    count: int | None = None,
    sort: str | None = None,
    store: KeyT | None = None,
    store_dist: KeyT | None = None,
    any: bool = False,
) -> Request[Any]:
    """GEORADIUS (deprecated: use geosearch): the matches as `geosearch` gives them, or the
    number stored with `store` / `store_dist`."""
    args: list[Any] = ["GEORADIUS", name, longitude, latitude, radius]
    return _radius(args, unit, withdist, withcoord, withhash, count, sort, store, store_dist, any)


def _georadiusbymember(
    name: KeyT,
    member: EncodableT,
    radius: float,
    unit: str | None = None,
    withdist: bool = False,
    withcoord: bool = False,
    withhash: bool = False,
    count: int | None = None,
    sort: str | None = None,
    store: KeyT | None = None,
    store_dist: KeyT | None = None,
    any: bool = False,
) -> Request[Any]:
    """GEORADIUSBYMEMBER (deprecated: use geosearch): as `georadius`, around `member`."""
    args: list[Any] = ["GEORADIUSBYMEMBER", name, member, radius]
    return _radius(args, unit, withdist, withcoord, withhash, count, sort, store, store_dist, any)


def _search_args(
    args: list[Any],
    member: EncodableT | None,
    longitude: float | None,
    latitude: float | None,
    unit: str,
    radius: float | None,
    width: float | None,
    height: float | None,
    sort: str | None,
    count: int | None,
    any: bool,
) -> None:
    """The center, shape, order and count of GEOSEARCH / GEOSEARCHSTORE, checked as redis-py
    checks them (truthiness included: a radius of 0 is no radius)."""
    if member is None and (longitude is None or latitude is None):
        raise ValueError("GEOSEARCH must have member or longitude and latitude")
    if member:
        if longitude or latitude:
            raise ValueError("GEOSEARCH member and longitude or latitude can't be set together")
        args += ("FROMMEMBER", member)
    if longitude is not None and latitude is not None:
        args += ("FROMLONLAT", longitude, latitude)
    if radius is None and (width is None or height is None):
        raise ValueError("GEOSEARCH must have radius or width and height")
    if unit is None:
        raise ValueError("GEOSEARCH must have unit")
    if unit.lower() not in _UNITS:
        raise ValueError("GEOSEARCH invalid unit")
    if radius:
        if width or height:
            raise ValueError("GEOSEARCH radius and width or height can't be set together")
        args += ("BYRADIUS", radius, unit)
    if width and height:
        args += ("BYBOX", width, height, unit)
    if sort:
        order = sort.upper()
        if order not in ("ASC", "DESC"):
            raise ValueError("GEOSEARCH invalid sort")
        args.append(order)
    if count:
        args += ("COUNT", count)
        if any:
            args.append("ANY")
    elif any:
        raise ValueError("GEOSEARCH ``any`` can't be provided without count")


def _geosearch(
    name: KeyT,
    member: EncodableT | None = None,
    longitude: float | None = None,
    latitude: float | None = None,
    unit: str = "m",
    radius: float | None = None,
    width: float | None = None,
    height: float | None = None,
    sort: str | None = None,
    count: int | None = None,
    any: bool = False,
    withcoord: bool = False,
    withdist: bool = False,
    withhash: bool = False,
) -> Request[list[Any]]:
    """GEOSEARCH: the members, or ``[member, dist, hash, (lon, lat)]`` lists with the flags
    given."""
    args: list[Any] = ["GEOSEARCH", name]
    _search_args(args, member, longitude, latitude, unit, radius, width, height, sort, count, any)
    if withdist:
        args.append("WITHDIST")
    if withcoord:
        args.append("WITHCOORD")
    if withhash:
        args.append("WITHHASH")
    return tuple(args), _SEARCH_PARSERS[bool(withdist), bool(withhash), bool(withcoord)]


def _geosearchstore(
    dest: KeyT,
    name: KeyT,
    member: EncodableT | None = None,
    longitude: float | None = None,
    latitude: float | None = None,
    unit: str = "m",
    radius: float | None = None,
    width: float | None = None,
    height: float | None = None,
    sort: str | None = None,
    count: int | None = None,
    any: bool = False,
    storedist: bool = False,
) -> Request[int]:
    """GEOSEARCHSTORE: the number of members stored in `dest`."""
    args: list[Any] = ["GEOSEARCHSTORE", dest, name]
    _search_args(args, member, longitude, latitude, unit, radius, width, height, sort, count, any)
    if storedist:
        args.append("STOREDIST")
    return tuple(args), to_int


class GeoCommands:
    """Geo commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    geoadd = command(_geoadd)
    geodist = command(_geodist)
    geohash = command(_geohash)
    geopos = command(_geopos)
    geosearch = command(_geosearch)
    geosearchstore = command(_geosearchstore)
    georadius = command(_georadius)
    georadiusbymember = command(_georadiusbymember)
