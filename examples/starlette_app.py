"""A Starlette app whose requests share one client and one multiplexed connection.

The client lives for the app's lifespan: its task group (connections, token refresher) starts
with the app and ends with it.

    uvicorn examples.starlette_app:app      # REDIS_URL=redis://localhost:6379/0
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from anyredis_auth import Client


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with Client.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")) as client:
        app.state.redis = await client.get_multiplexed_async_connection()
        yield


async def hit(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    count = await request.app.state.redis.incr(f"example:hits:{name}")
    return JSONResponse({"page": name, "hits": count})


app = Starlette(routes=[Route("/hits/{name}", hit)], lifespan=lifespan)
