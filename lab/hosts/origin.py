"""A web server as customers meet them (host kind ``origin``): HTTPS or plain HTTP, and the ways they fail.

It can cut the TLS handshake at a chosen point - a chosen fatal alert right after the ClientHello, a close
(FIN or RST) there, or a close right after its ServerHello - ask for a client certificate (OpenSSL verifies
it and chooses the alert), present any certificate the PKI makes (wrong name, CN only, self-signed, expired,
untrusted issuer), and answer requests per path (redirects for ``curl -L``), or never answer, or hang up.
TLS is :mod:`lab.runtime.tlsserver` (the standard library's OpenSSL on memory BIOs, so what leaves is what
the setting says); HTTP is :func:`lab.runtime.httpserve.serve_http`.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct

import trio

from lab.model.behaviours import ALERT_NAMES, ALERTS, ClientCertPolicy, OriginSettings
from lab.model.events import NoAnswer, PeerError, ResponseSent, TlsFailed, TlsOk
from lab.model.scenario import Host
from lab.protocols import clienthello
from lab.runtime.httpserve import PeerProtocolError, Request, Responder, Response, guard_for, serve_http
from lab.runtime.pki import Pki
from lab.runtime.relay import read_client_hello
from lab.runtime.tlsserver import HandshakeFailed, HelloInfo, ServerTLS, plaintext_alert, sni_callback
from lab.runtime.world import Connection, World

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def client_ca_file(pki: Pki, trust: tuple[str, ...]) -> str:
    """The PEM text of the CAs a host trusts for client certificates."""
    cas = {"client-ca": pki.client_ca, "rogue-ca": pki.rogue_ca, "lab-root-ca": pki.root}
    return "".join(cas[name].pair.cert.read_text() for name in trust)


def server_context(
    pki: Pki, host: Host, *, versions: tuple[str, str], alpn: list[str], client_cert: ClientCertPolicy | None
) -> ssl.SSLContext:
    """An OpenSSL server context with the host's certificate (and a client-certificate check, if asked)."""
    pair = pki.server(host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version, context.maximum_version = (VERSIONS[v] for v in versions)
    context.load_cert_chain(pair.cert, pair.key)
    context.set_alpn_protocols(alpn)
    context.options |= ssl.OP_NO_TICKET
    if client_cert is not None:
        context.verify_mode = ssl.CERT_REQUIRED if client_cert.require else ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=client_ca_file(pki, client_cert.trust))
    return context


# OpenSSL's X509_V_ERR_* for a client certificate -> (the alert it sends, the verdict in the load balancer's
# words, which the lab's explanation reads for every server that checks client certificates)
_VERIFY = {
    2: ("unknown_ca", "client_cert_validation_failed"),
    18: ("unknown_ca", "client_cert_validation_failed"),
    19: ("unknown_ca", "client_cert_validation_failed"),
    20: ("unknown_ca", "client_cert_validation_failed"),
    21: ("unknown_ca", "client_cert_validation_failed"),
    9: ("bad_certificate", "client_cert_validation_failed"),
    10: ("certificate_expired", "client_cert_validation_failed"),
    26: ("unsupported_certificate", "client_cert_chain_invalid_eku"),
}


def failed_event(
    exc: HandshakeFailed, info: HelloInfo, alert: str | None, tls: ServerTLS, hangup: str = ""
) -> TlsFailed:
    """The ``tls-failed`` event: the alert sent, and - when the client's certificate was the reason - the verdict."""
    version = tls.negotiated
    sent = f"; sent {exc.sent}" if exc.sent else ""
    summary = f"handshake failed: {exc.reason}{sent}"
    if exc.verify_code is not None:
        chosen, details = _VERIFY.get(exc.verify_code, ("bad_certificate", "client_cert_validation_failed"))
        return TlsFailed(
            summary=f"refused the client certificate: {exc.verify_message}; sent alert {chosen}",
            reason=exc.reason, alert=chosen, chosen_alert=chosen, version=version, status_details=details,
            client_cert="(the certificate curl sent)", sni=info.sni, detail=exc.verify_message,
        )  # fmt: skip
    if "PEER_DID_NOT_RETURN_A_CERTIFICATE" in exc.reason:
        chosen = "certificate_required" if version == "TLSv1.3" else "handshake_failure"
        return TlsFailed(
            summary=f"no client certificate; sent alert {chosen}", reason=exc.reason, alert=chosen,
            chosen_alert=chosen, version=version, status_details="client_cert_not_provided", sni=info.sni,
            detail="the client sent no certificate",
        )  # fmt: skip
    if exc.sent == "ServerHello":  # the host's own choice: its ServerHello, then nothing
        return TlsFailed(
            summary=summary, reason=exc.reason, sni=info.sni, version=version, stopped="server-hello", hangup=hangup
        )
    picked = alert if "CALLBACK_FAILED" in exc.reason else None  # the alert the ServerName callback chose
    alert_sent = ALERT_NAMES.get(plaintext_alert(tls.last_flight) or -1) if exc.sent else None  # OpenSSL's own
    if alert_sent or picked:
        summary = f"handshake failed: {exc.reason}; sent alert {alert_sent or picked}"
    return TlsFailed(
        summary=summary, reason=exc.reason, alert=alert_sent or (picked if exc.sent else None),
        chosen_alert=picked or alert_sent,
        sni=info.sni, version=version, stopped="client-hello" if picked else "",
    )  # fmt: skip


async def handshake(
    conn: Connection,
    context: ssl.SSLContext,
    infos: dict[int, HelloInfo],
    *,
    stop_after_server_hello: bool = False,
    alert: str | None = None,
    hangup: str = "",
) -> ServerTLS | None:
    """The TLS handshake on ``conn``, reported; ``None`` (after one ``tls-failed`` event) when it failed."""
    info = HelloInfo()
    tls = ServerTLS(conn.stream, context, info)
    infos[id(tls.obj)] = info
    try:
        await tls.do_handshake(stop_after_server_hello=stop_after_server_hello)
    except HandshakeFailed as exc:
        conn.emit(failed_event(exc, info, alert, tls, hangup))
        return None
    finally:
        infos.pop(id(tls.obj), None)
    peer = tls.obj.getpeercert()
    rdns: tuple[tuple[tuple[str, str], ...], ...] = (peer or {}).get("subject", ())  # type: ignore[assignment]
    subject = {key: value for rdn in rdns for key, value in rdn}
    version, alpn = tls.obj.version() or "", tls.obj.selected_alpn_protocol()
    conn.notes.update(sni=info.sni or "", tls_version=version, client_cert=subject.get("commonName"))
    conn.emit(
        TlsOk(
            summary=f"{version} handshake ok, SNI {info.sni or 'none'}, ALPN {alpn or 'none'}"
            + (f", client cert {subject.get('commonName')}" if peer else ""),
            sni=info.sni,
            version=version,
            alpn=alpn,
            cipher=(tls.obj.cipher() or ("",))[0],
            client_cert=subject.get("commonName"),
        )
    )
    return tls


async def linger(conn: Connection) -> None:
    """Read until the client closes (up to 2 s): closing at once could reset the connection before curl
    reads what was sent (an alert)."""
    with trio.move_on_after(2), contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await conn.stream.send_eof()
        while await conn.stream.receive_some(65536):
            pass


def reset_on_close(conn: Connection) -> None:
    """Make the coming close a TCP reset (SO_LINGER 0), as a crashing or firewalled server does."""
    conn.stream.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.notes["close_reason"] = "sent RST"


def respond_for(host: Host, settings: OriginSettings, conn: Connection) -> Responder:
    async def respond(request: Request) -> Response:
        conn.emit(request.event())
        answer = settings.answer_for(request.target)
        headers = [("served-by", host.name), ("content-type", "text/plain")]
        if answer.location:
            headers.append(("location", answer.location))
        body = f"served-by: {host.name}\nlabel: {settings.label}\nrequest: {request.line}\n"
        to = f" to {answer.location}" if answer.location else ""
        conn.emit(
            ResponseSent(
                summary=f"{answer.status}{to}, served-by {host.name}",
                status=answer.status,
                served_by=host.name,
                location=answer.location,
            )
        )
        return Response(status=answer.status, headers=headers, body=body.encode())

    return respond


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    settings = host.settings
    assert isinstance(settings, OriginSettings)
    fail = settings.fail
    infos: dict[int, HelloInfo] = {}
    context = None
    if settings.tls:
        context = server_context(
            world.pki,
            host,
            versions=(settings.tls_min, settings.tls_max),
            alpn=["h2", "http/1.1"] if settings.http2 else ["http/1.1"],
            client_cert=settings.client_cert,
        )
        alert = ALERTS[fail.alert] if fail is not None and fail.alert else None
        if fail is not None and fail.at == "client-hello" and fail.alert is None:
            alert = ALERTS["handshake_failure"]  # never sent: the host closes before OpenSSL answers
        names = (*settings.cert.names, *(v for k, v in settings.cert.subject if k == "CN"))
        refuses = (lambda sni: fail.refuses(sni, names)) if fail is not None else (lambda sni: True)
        context.sni_callback = sni_callback(lambda obj: infos.setdefault(id(obj), HelloInfo()), alert, refuses)
    chosen = fail.alert if fail is not None and fail.at == "client-hello" else None

    async def handle(conn: Connection) -> None:
        if fail is not None and fail.at == "client-hello" and fail.alert is None:
            await _close_after_client_hello(conn, fail.close)
            return
        stream: trio.abc.Stream = conn.stream
        alpn = None
        if context is not None:
            tls = await handshake(
                conn,
                context,
                infos,
                stop_after_server_hello=fail is not None and fail.at == "server-hello",
                alert=chosen,
                hangup=fail.close if fail is not None else "",
            )
            if tls is None:
                await _after_failed_handshake(conn, settings)
                return
            stream, alpn = tls, tls.obj.selected_alpn_protocol()
        await _answer(conn, stream, alpn, host, settings)

    await world.serve_tcp(host, handle, task_status=task_status)


async def _close_after_client_hello(conn: Connection, close: str) -> None:
    reader, found = await read_client_hello(conn.stream)
    hello = found if isinstance(found, clienthello.ClientHello) else None
    sni = f" (SNI {hello.sni or 'none'})" if hello else ""
    conn.emit(
        TlsFailed(
            summary=f"read {len(reader.buffer)} bytes of a ClientHello{sni}; closing ({close}) without an answer",
            reason=f"closes after the ClientHello ({close})",
            sni=hello.sni if hello else None,
            alpn=hello.alpn if hello else (),
            stopped="client-hello",
            hangup=close,
        )
    )
    if close == "rst":
        reset_on_close(conn)


async def _after_failed_handshake(conn: Connection, settings: OriginSettings) -> None:
    fail = settings.fail
    if fail is not None and fail.close == "rst":
        reset_on_close(conn)
    elif settings.client_cert is None or settings.client_cert.linger:
        await linger(conn)
    else:
        conn.notes["close_reason"] = "closed at once after the failed handshake"


async def _answer(
    conn: Connection, stream: trio.abc.Stream, alpn: str | None, host: Host, settings: OriginSettings
) -> None:
    if settings.answer != "respond":
        await _no_answer(conn, stream, settings.answer)
        return
    try:
        await serve_http(stream, alpn, respond_for(host, settings, conn), guard_for(conn))
    except PeerProtocolError as exc:  # answered already (HTTP/1.1: 400 or 431; HTTP/2: GOAWAY)
        conn.emit(PeerError(summary=str(exc), status=exc.status))
    except trio.BrokenResourceError as exc:  # a TLS 1.3 client certificate refused after the handshake
        conn.emit(TlsFailed(summary=f"handshake failed after it seemed done: {exc}", reason=str(exc)))
        if settings.client_cert is None or settings.client_cert.linger:
            await linger(conn)


async def _no_answer(conn: Connection, stream: trio.abc.Stream, answer: str) -> None:
    """``hang``: read the request and never answer; ``close``: close without a reply (over TLS with its
    close_notify); ``eof``: close the TCP connection under the TLS one; ``reset``: reset."""
    data = await stream.receive_some(65536)
    line = bytes(data).split(b"\r\n", 1)[0].decode("latin-1", "replace")
    shown = line if line.isprintable() and " HTTP/" in line else "a request"
    conn.emit(NoAnswer(summary=f"read {shown}; answer: {answer}", how=answer, line=shown))
    if answer == "hang":
        conn.notes["close_reason"] = "held the request without an answer until the client gave up"
        while await stream.receive_some(65536):
            pass
    elif answer == "reset":
        reset_on_close(conn)
    elif answer == "eof":
        conn.notes["close_reason"] = "closed the TCP connection, no TLS close_notify, no reply"
        await conn.stream.send_eof()
    else:
        conn.notes["close_reason"] = "closed without a reply"
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.aclose()
