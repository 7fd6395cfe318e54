"""Proxy rules per destination (``rules = [{ to = "*:8443", reply = 403 }]``), for the HTTP and SOCKS5 proxies.

A corporate proxy refuses some destinations (403), wants a login for others (407), cannot reach some
(502), hangs up on some without a word, or is slow. The first rule whose ``to`` matches the destination
the client asked for decides, before the proxy's DNS is consulted (:func:`lab.model.behaviours.first_rule`);
a destination no rule matches goes on as usual. Rules can only refuse or delay: a proxy still connects only
to lab hosts (:mod:`lab.hosts.proxydns`), never anywhere else.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus

import trio

from lab.hosts.origin import reset_on_close
from lab.model.behaviours import ProxyRule, first_rule
from lab.model.events import PeerError, TunnelRefused, TunnelRequested
from lab.model.hostsettings import ProxySettings
from lab.protocols.proxyhead import ProxyRequest
from lab.runtime.world import Connection


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def http_response(status: int, why: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The response a proxy sends instead of a tunnel (and closes)."""
    body = f"{why}\n".encode()
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", "Content-Type: text/plain", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in extra] + ["Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def requested(request: ProxyRequest, target: str, headers: dict[str, str]) -> TunnelRequested:
    """The ``tunnel-requested`` event for an HTTP proxy request (Host and Proxy-* headers as shown)."""
    listed = "; ".join(f"{k}: {v}" for k, v in headers.items()) or "no Host header"
    return TunnelRequested(
        summary=f"{request.line} ({listed})", method=request.method, target=target, line=request.line, headers=headers
    )


async def hold(conn: Connection, stream: trio.abc.Stream, rule: ProxyRule) -> bool:
    """``slow``: wait ``rule.delay`` seconds, or (0) until the client gives up. True when the client left."""
    conn.emit(PeerError(summary=f"rule {rule.to!r}: slow, holding the request" + _for(rule)))
    with trio.move_on_after(rule.delay or float("inf")):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            while await stream.receive_some(65536):
                pass
        conn.notes["close_reason"] = "the client gave up waiting"
        why = f"rule {rule.to!r}: held the request until the client gave up"
        conn.emit(TunnelRefused(summary=why, reason=why, hangup="hold"))
        return True
    return False


def hang_up(conn: Connection, rule: ProxyRule) -> None:
    """``drop``: close without a reply; ``reset``: the same as a TCP reset (SO_LINGER 0)."""
    how = "reset the connection" if rule.reply == "reset" else "closed without a reply"
    hangup = "rst" if rule.reply == "reset" else "fin"
    conn.emit(TunnelRefused(summary=f"rule {rule.to!r}: {how}", reason=f"{how} (proxy rule)", hangup=hangup))
    conn.notes["close_reason"] = f"{how} (proxy rule)"
    if rule.reply == "reset":
        reset_on_close(conn)


def _for(rule: ProxyRule) -> str:
    return f" for {rule.delay:g} s" if rule.delay else " until the client gives up"


async def apply_http(conn: Connection, stream: trio.abc.Stream, settings: ProxySettings, host: str, port: int) -> bool:
    """Apply the first rule for ``host:port`` to an HTTP proxy request. True: the rule ended the request."""
    rule = first_rule(settings.rules, host, port)
    if rule is None or rule.reply == "allow":
        return False
    if rule.reply == "slow":
        return await hold(conn, stream, rule)
    if rule.reply in ("drop", "reset"):
        hang_up(conn, rule)
        return True
    assert isinstance(rule.reply, int)
    why = f"the proxy's rule {rule.to!r} answers {rule.reply} for {host}:{port}"
    extra = (("Proxy-Authenticate", 'Basic realm="lab proxy"'),) if rule.reply == 407 else ()
    conn.emit(TunnelRefused(summary=f"{rule.reply} {_phrase(rule.reply)}: {why}", status=rule.reply, reason=why))
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(http_response(rule.reply, why, extra))
    return True
