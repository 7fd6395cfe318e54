"""The load balancer's hop to a backend host: one HTTP/1.1 request, one response.

One function on purpose: where the hop leaves from (the load balancer's own address) and what it tells the
backend is decided here and nowhere else.
"""

from __future__ import annotations

import ssl

import trio

from lab.model.hostsettings import BackendSettings
from lab.model.scenario import Host
from lab.runtime.httpfetch import fetch
from lab.runtime.httpserve import Request, Response
from lab.runtime.world import World


async def forward(
    world: World, source: Host, backend: Host, request: Request, headers: list[tuple[str, str]]
) -> tuple[Response, bool]:
    """Send ``request`` with ``headers`` from load balancer ``source`` to ``backend``; the response, and whether
    the backend was reached (if not: the 502 the load balancer answers with)."""
    try:
        upstream: trio.abc.Stream = await world.connect_upstream(backend.ip, backend.port, source=source)
    except OSError as exc:
        return Response(status=502, headers=[("content-type", "text/plain")], body=f"{exc}\n".encode()), False
    assert isinstance(backend.settings, BackendSettings)
    if backend.settings.tls:
        client_ctx = ssl.create_default_context()
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE  # the load balancer's hop to its own backend
        client_ctx.set_alpn_protocols(["http/1.1"])
        upstream = trio.SSLStream(upstream, client_ctx, server_hostname=request.authority.split(":")[0] or None)
    async with upstream:
        response = await fetch(
            upstream, method=request.method, target=request.target, headers=headers, body=request.body
        )
    return response, True
