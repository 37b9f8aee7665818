"""The pack's routes on ComfyUI's server (``PromptServer.instance.routes``), all under /headhunter/.

ComfyUI also serves every route under /api (the frontend's ``api.fetchApi`` prefix). Answers are
JSON; a bad request gets a 4xx JSON ``{"error": message}``, and nothing ever answers with a
traceback.
"""
from __future__ import annotations

import functools
import logging

from aiohttp import web

from ..comfy_host import preset_store
from .payloads import BadRequest, architectures_payload, parse_payload, presets_payload

log = logging.getLogger("HeadHunter")


def _json_errors(handler):
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return web.json_response(await handler(request))
        except BadRequest as e:
            return web.json_response({"error": str(e)}, status=e.status)
        except Exception as e:  # a route must not take the page down with a traceback
            log.exception("HeadHunter: %s failed", request.path)
            return web.json_response({"error": f"{type(e).__name__}: {e}"}, status=500)

    return wrapped


def register_routes(routes: web.RouteTableDef) -> None:
    @routes.get("/headhunter/architectures")
    @_json_errors
    async def architectures(request):
        return architectures_payload()

    @routes.get("/headhunter/presets")
    @_json_errors
    async def presets(request):
        # Shipped and user presets, read fresh: a preset saved a minute ago is listed.
        return presets_payload(*preset_store.load_all())

    @routes.get("/headhunter/parse")
    @_json_errors
    async def parse(request):
        query = request.rel_url.query
        return parse_payload(query.get("text"), query.get("arch"), query.get("family"))


def register_with_comfyui(server_module) -> bool:
    """Add the routes when ComfyUI runs its server; the in-process test loader has none."""
    prompt_server = getattr(getattr(server_module, "PromptServer", None), "instance", None)
    if prompt_server is None:
        return False
    register_routes(prompt_server.routes)
    return True
