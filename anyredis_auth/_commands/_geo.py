"""Geo commands: GEOADD, GEODIST, GEOPOS, GEOSEARCH, ..."""

from __future__ import annotations

__all__ = ["GeoCommands"]


class GeoCommands:
    """Geo commands: GEOADD, GEODIST, GEOPOS, GEOSEARCH, ..."""
