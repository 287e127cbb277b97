"""Geo commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._servers import ServerProcess
from tests.commands._checks import check_sequence

# The three standard corpus tests, collected here (`corpus` reads this module's CORPUS):
from tests.commands._checks import test_cluster as test_cluster
from tests.commands._checks import test_direct as test_direct
from tests.commands._checks import test_pipelined as test_pipelined
from tests.commands._oracle import Call, call

pytestmark = pytest.mark.anyio

G = "{t}sicily"
PLACES = [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"]

CORPUS: list[Call] = [
    call("geoadd", G, PLACES),
    call("geoadd", G, [12.758489, 38.788135, "edge1", 17.241510, 38.788135, "edge2"]),
    call("geoadd", G, [13.5, 38.2, "Palermo"], nx=True),
    call("geoadd", G, [13.361389, 38.115556, "Palermo", 1, 1, "ghost"], xx=True, ch=True),
    call("geoadd", G, [13.361389, 38.115556, "Palermo", 2, 2, "new"], ch=True),
    call("geoadd", G, [1, 2, "x"], nx=True, xx=True),  # client
    call("geoadd", G, [1, 2]),  # client: not triples
    call("geoadd", G, [200, 100, "far"]),  # ERR: invalid longitude,latitude
    call("geodist", G, "Palermo", "Catania"),
    call("geodist", G, "Palermo", "Catania", "km"),
    call("geodist", G, "Palermo", "Catania", unit="mi"),
    call("geodist", G, "Palermo", "Catania", "ft"),
    call("geodist", G, "Palermo", "nowhere"),
    call("geodist", G, "Palermo", "Catania", "yards"),  # client
    call("geohash", G, "Palermo", "Catania", "nowhere"),
    call("geohash", "{t}missing", "Palermo"),
    call("geopos", G, "Palermo", "nowhere", "Catania"),
    call("geopos", "{t}missing", "a"),
    # GEOSEARCH: every flag, both centers, both shapes
    call("geosearch", G, longitude=15, latitude=37, radius=200, unit="km"),
    call("geosearch", G, longitude=15, latitude=37, radius=200, unit="km", sort="ASC"),
    call("geosearch", G, member="Palermo", radius=300, unit="km", sort="desc"),
    call("geosearch", G, member="Palermo", width=400, height=400, unit="km", sort="ASC"),
    call(
        "geosearch",
        G,
        longitude=15,
        latitude=37,
        radius=400,
        unit="km",
        sort="ASC",
        withcoord=True,
        withdist=True,
        withhash=True,
    ),
    call("geosearch", G, member="Catania", radius=200, unit="km", withdist=True, sort="ASC"),
    call("geosearch", G, member="Catania", radius=200, unit="KM", withhash=True, sort="ASC"),
    call("geosearch", G, member="Catania", radius=200, unit="km", withcoord=True, sort="ASC"),
    call("geosearch", G, longitude=15, latitude=37, radius=400, unit="km", sort="ASC", count=1),
    call(
        "geosearch", G, longitude=15, latitude=37, radius=400, unit="km", count=2, any=True
    ).unordered(),
    call("geosearch", G, member="nowhere", radius=1),  # ERR: member missing
    call("geosearch", "{t}missing", longitude=0, latitude=0, radius=1),
    call("geosearch", G, radius=1),  # client: no center
    call("geosearch", G, member="Palermo", longitude=1, latitude=2, radius=1),  # client
    call("geosearch", G, member="Palermo"),  # client: no shape
    call("geosearch", G, member="Palermo", radius=1, width=1, height=1),  # client
    call("geosearch", G, member="Palermo", radius=1, unit="yards"),  # client
    call("geosearch", G, member="Palermo", radius=1, sort="up"),  # client
    call("geosearch", G, member="Palermo", radius=1, any=True),  # client: any without count
    call("geosearchstore", "{t}dst", G, member="Palermo", radius=200, unit="km"),
    call("zrange", "{t}dst", 0, -1, withscores=True),
    call(
        "geosearchstore",
        "{t}dst",
        G,
        longitude=15,
        latitude=37,
        width=500,
        height=300,
        unit="km",
        sort="DESC",
        count=3,
        storedist=True,
    ),
    call("zrange", "{t}dst", 0, -1, withscores=True).approx(),
    call("geosearchstore", "{t}dst", G, member="Palermo"),  # client
    # the deprecated GEORADIUS pair
    call("georadius", G, 15, 37, 200, "km"),
    call("georadius", G, 15, 37, 200, unit="km", withdist=True, withcoord=True, sort="ASC"),
    call("georadius", G, 15, 37, 500, unit="km", withhash=True, count=2, sort="DESC"),
    call("georadius", G, 15, 37, 500, unit="km", count=3, any=True).unordered(),
    call("georadius", G, 15, 37, 200000),
    call("georadius", G, 15, 37, 200, unit="km", store="{t}st"),
    call("zrange", "{t}st", 0, -1, withscores=True),
    call("georadius", G, 15, 37, 200, unit="km", store_dist="{t}sd"),
    call("zrange", "{t}sd", 0, -1, withscores=True).approx(),
    call("georadius", G, 15, 37, 200, unit="yards"),  # client
    call("georadius", G, 15, 37, 200, any=True),  # client
    call("georadius", G, 15, 37, 200, sort="asc"),  # client: redis-py wants upper case
    call("georadius", G, 15, 37, 200, store="{t}a", store_dist="{t}b"),  # client
    call("georadiusbymember", G, "Palermo", 200, unit="km", withdist=True, sort="ASC"),
    call("georadiusbymember", G, "Palermo", 300, "km", withcoord=True, withhash=True),
    call("georadiusbymember", G, "Palermo", 300, "km", store="{t}st"),
    call("georadiusbymember", G, "nowhere", 300, "km"),  # ERR
    # the wrong type
    call("set", "{t}str", "text"),
    call("geoadd", "{t}str", PLACES),
    call("geopos", "{t}str", "a"),
    call("geosearch", "{t}str", member="a", radius=1),
]


KEYS = st.sampled_from(["{t}a", "{t}b"])
NAMES = st.sampled_from(["p", "q", "r\u00e9"])
LONGITUDES = st.floats(-179.5, 179.5).map(lambda x: round(x, 4))
LATITUDES = st.floats(-85, 85).map(lambda x: round(x, 4))
CALLS = st.one_of(
    st.builds(
        lambda k, lon, lat, m, ch: call("geoadd", k, [lon, lat, m], ch=ch),
        KEYS,
        LONGITUDES,
        LATITUDES,
        NAMES,
        st.booleans(),
    ),
    st.builds(
        lambda k, a, b, unit: call("geodist", k, a, b, unit),
        KEYS,
        NAMES,
        NAMES,
        st.sampled_from([None, "km", "mi"]),
    ),
    st.builds(lambda k, m: call("geopos", k, m, "missing"), KEYS, NAMES),
    st.builds(lambda k, m: call("geohash", k, m), KEYS, NAMES),
    st.builds(
        lambda k, m, dist, coord, hash_: call(
            "geosearch",
            k,
            member=m,
            radius=5000,
            unit="km",
            sort="ASC",
            withdist=dist,
            withcoord=coord,
            withhash=hash_,
        ),
        KEYS,
        NAMES,
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        lambda lon, lat: call(
            "geosearchstore", "{t}a", "{t}b", longitude=lon, latitude=lat, width=9000, height=9000
        ),
        LONGITUDES,
        LATITUDES,
    ),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
