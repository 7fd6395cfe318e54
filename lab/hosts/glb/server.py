"""The mTLS load balancer (host kind ``glb``), modelled on Google Cloud's external Application LB.

Theory of operation. TLS is OpenSSL through pyOpenSSL on memory BIOs (:mod:`lab.tlsbio`). Every client
gets a CertificateRequest. OpenSSL itself verifies the client chain against the trust anchors during the
handshake, so under ``REJECT_INVALID`` the alert a client sees is the one OpenSSL really sends
(certificate_required, handshake_failure, unknown_ca, certificate_expired, unsupported_certificate); the
verify callback only adds the allowlist. Separately, :mod:`lab.mtls` computes the verdict with
``cryptography``'s verifier — the ``statusDetails`` for the log and the custom-header variables for
backends. Under ``ALLOW_INVALID_OR_MISSING_CLIENT_CERT`` the handshake always succeeds and the verdict
travels in headers. HTTP/2 or HTTP/1.1 (by ALPN) is answered by the load balancer itself or, through the
URL map, by a backend host. Every request and every connection closed by a failed handshake yields a
Cloud-Logging-shaped entry (:mod:`lab.glblog`), subject to the logging settings.
"""

from __future__ import annotations

import contextlib
import fnmatch
import random
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto

from lab.hosts.glb import logentry as glblog
from lab.hosts.glb import mtls
from lab.model.events import Forwarded, LogEntry, PeerError, ResponseSent, TlsFailed, TlsOk
from lab.model.hostsettings import BackendSettings, GlbSettings
from lab.model.scenario import Host
from lab.runtime.httpfetch import fetch
from lab.runtime.httpserve import PeerProtocolError, Request, Response, serve_http, sized
from lab.runtime.pki import Pki
from lab.runtime.tlsbio import OpenSSLStream, TLSHandshakeFailed
from lab.runtime.world import Connection, World

VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}


@dataclass(slots=True)
class _HandshakeNotes:
    """What the verify callback saw (it runs inside OpenSSL, during the handshake)."""

    errors: list[int] = field(default_factory=list)
    leaf: x509.Certificate | None = None  # OpenSSL drops the peer certificate when verification fails


def trust_config(pki: Pki, config: GlbSettings) -> mtls.TrustConfig:
    anchors = {"client-ca": pki.client_ca, "rogue-ca": pki.rogue_ca, "lab-root-ca": pki.root}
    certs = {
        "client": pki.client,
        "rogue-client": pki.rogue_client,
        "expired-client": pki.expired_client,
        "noeku-client": pki.noeku_client,
    }
    return mtls.TrustConfig(
        anchors=tuple(anchors[a].cert for a in config.anchors),
        allowlist=tuple(certs[c].cert for c in config.allowlist),
    )


def tls_context(host: Host, world: World, config: GlbSettings, trust: mtls.TrustConfig) -> SSL.Context:
    pair = world.pki.server(host)
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(VERSIONS[config.tls_min])
    context.set_max_proto_version(VERSIONS[config.tls_max])
    context.use_certificate_chain_file(str(pair.cert))
    context.use_privatekey_file(str(pair.key))
    context.set_options(SSL.OP_NO_TICKET)
    store = context.get_cert_store()
    assert store is not None
    for anchor in trust.anchors:
        store.add_cert(crypto.X509.from_cryptography(anchor))

    def select_alpn(conn: SSL.Connection, offered: list[bytes]) -> bytes:
        return b"h2" if b"h2" in offered else b"http/1.1" if b"http/1.1" in offered else offered[0]

    context.set_alpn_select_callback(select_alpn)
    if config.mode is not None:
        flags = SSL.VERIFY_PEER
        if config.mode == "REJECT_INVALID":
            flags |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT

        def verify(conn: SSL.Connection, cert: crypto.X509, errnum: int, depth: int, ok: int) -> bool:
            notes: _HandshakeNotes = conn.get_app_data()
            if depth == 0:
                notes.leaf = cert.to_cryptography()
            if not ok:
                notes.errors.append(errnum)
                if errnum == mtls.X509_V_ERR_CERT_HAS_EXPIRED and trust.allowlisted(cert.to_cryptography()):
                    return True
            return bool(ok) or config.mode != "REJECT_INVALID"

        context.set_verify(flags, verify)
    return context


def _peer_chain(stream: OpenSSLStream) -> list[x509.Certificate]:
    leaf = stream.conn.get_peer_certificate(as_cryptography=True)
    if leaf is None:
        return []
    rest = stream.conn.get_peer_cert_chain(as_cryptography=True) or []
    return [leaf, *[c for c in rest if c != leaf]]


def _cn(cert: x509.Certificate | None) -> str:
    if cert is None:
        return "none"
    names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _cert_summary(chain: list[x509.Certificate], verdict: mtls.Verdict | None) -> str:
    if verdict is None:
        return _cn(chain[0]) + " (not checked: no mTLS policy)" if chain else "none"
    judged = "verified" if verdict.chain_verified else verdict.detail
    return f"{_cn(chain[0])} ({judged})" if chain else f"none ({verdict.detail})"


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    config = host.settings
    assert isinstance(config, GlbSettings)
    trust = trust_config(world.pki, config)
    context = tls_context(host, world, config, trust)
    rng = random.Random(0)
    verdicts: dict[tuple[bytes, ...], tuple[int, mtls.Verdict]] = {}

    def judge(chain: list[x509.Certificate]) -> mtls.Verdict:
        """The verdict for a chain, remembered for the current minute: clients repeat the same certificate,
        and path validation plus the header variables cost about as much as the RSA signature."""
        minute = int(time.time() // 60)
        key = tuple(c.public_bytes(serialization.Encoding.DER) for c in chain)
        cached = verdicts.get(key)
        if cached is None or cached[0] != minute:
            if len(verdicts) > 256:
                verdicts.clear()
            cached = verdicts[key] = (minute, mtls.evaluate(chain, trust))
        return cached[1]

    def log(conn: Connection, record: dict[str, Any]) -> None:
        decision = config.log.decide(rng)
        status = f"status {record['httpRequest']['status']} {record['jsonPayload']['statusDetails']}"
        if decision.written:
            conn.emit(LogEntry(summary=f"log entry: {status}", written=True, entry=record))
        else:
            conn.emit(
                LogEntry(summary=f"no log entry ({status}): {decision.reason}", written=False, reason=decision.reason)
            )

    async def handle(conn: Connection) -> None:
        started = time.monotonic()
        tls = OpenSSLStream(conn.stream, context, failure_style=config.failure_style)  # type: ignore[arg-type]
        notes = _HandshakeNotes()
        tls.conn.set_app_data(notes)
        try:
            await tls.do_handshake()
        except TLSHandshakeFailed as exc:
            await _handshake_failed(conn, tls, exc, notes, started)
            return
        chain = _peer_chain(tls)
        verdict = judge(chain) if config.mode is not None else None
        conn.notes.update(sni=tls.sni or "", tls_version=tls.version, client_cert=_cn(chain[0] if chain else None))
        conn.emit(
            TlsOk(
                summary=f"{tls.version} handshake ok, SNI {tls.sni or 'none'}, ALPN {tls.alpn or 'none'}, "
                f"client cert: {_cert_summary(chain, verdict)}",
                sni=tls.sni,
                version=tls.version,
                alpn=tls.alpn,
                cipher=tls.cipher,
                client_cert=_cn(chain[0]) if chain else None,
                verdict=verdict.error if verdict else None,
            )
        )

        async def respond(request: Request) -> Response:
            return await _respond(conn, request, tls, verdict, started)

        try:
            await serve_http(tls, tls.alpn, respond)
        except PeerProtocolError as exc:
            conn.emit(PeerError(summary=str(exc)))
            with trio.move_on_after(1):
                await tls.aclose()  # close_notify: the client learns the load balancer hung up on purpose

    async def _handshake_failed(
        conn: Connection, tls: OpenSSLStream, exc: TLSHandshakeFailed, notes: _HandshakeNotes, started: float
    ) -> None:
        chain = _peer_chain(tls) or ([notes.leaf] if notes.leaf else [])
        # A verdict only when the handshake got as far as the client's Certificate message: bytes that are
        # not TLS, or a client that hung up earlier, say nothing about client certificates.
        got_to_cert = bool(chain or notes.errors) or "certificate" in exc.reason
        verdict = judge(chain) if config.mode is not None and got_to_cert else None
        version = tls.version if tls.version != "Unknown" else ""
        alert = exc.alert
        if notes.errors:
            alert = mtls.alert_for_verify_error(notes.errors[0])
        elif verdict is not None and not verdict.present and "certificate" in exc.reason:
            alert = "certificate_required" if version == "TLSv1.3" else "handshake_failure"
        status_details = verdict.status_details if verdict and verdict.status_details else "tls_handshake_failed"
        sent = (
            {
                "alert": f"sent alert {alert}",
                "silent": "sent nothing and held the connection",
                "reset": "reset the connection",
            }[config.failure_style]
            if alert
            else "closed"
        )
        conn.emit(
            TlsFailed(
                summary=f"handshake failed: {verdict.detail if verdict and verdict.status_details else exc.reason}; "
                f"{sent}",
                reason=exc.reason,
                alert=alert if config.failure_style == "alert" else None,
                version=version,
                status_details=status_details,
                client_cert=_cn(chain[0]) if chain else None,
                sni=tls.sni,
                chosen_alert=alert,
                detail=verdict.detail if verdict else "",
            )
        )
        log(  # every closed connection is logged, garbage included: one event, one entry
            conn,
            glblog.entry(
                lb=host.name,
                remote_ip=conn.peer.rpartition(":")[0],
                server_ip=host.ip,
                status=0,
                status_details=status_details,
                tls={"protocol": version, "cipher": ""},
                verdict=verdict,
                latency_s=time.monotonic() - started,
            ),
        )
        if config.failure_style == "alert":
            # Lingering close: the client may still be sending its request; a plain close would answer that
            # with a TCP reset, which can destroy the alert before curl reads it.
            with trio.move_on_after(2), contextlib.suppress(trio.BrokenResourceError, OSError):
                await conn.stream.send_eof()
                while await conn.stream.receive_some(65536):
                    pass
        elif config.failure_style == "silent":
            conn.notes["close_reason"] = "held silently until the client gave up"
            while await conn.stream.receive_some(65536):
                pass
        elif config.failure_style == "reset":
            conn.stream.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.notes["close_reason"] = "sent RST"

    async def _respond(
        conn: Connection, request: Request, tls: OpenSSLStream, verdict: mtls.Verdict | None, started: float
    ) -> Response:
        conn.emit(request.event())
        variables = verdict.variables if verdict else {}
        extra = [(name.lower(), mtls.render_header(value, variables)) for name, value in config.custom_headers]
        route = next(
            (
                r
                for r in config.routes
                if fnmatch.fnmatch(request.authority.split(":")[0], r.host) and fnmatch.fnmatch(request.target, r.path)
            ),
            None,
        )
        if route is not None:
            response = await _forward(conn, request, world.scenario.hosts[route.backend], extra)
            status_details = "response_sent_by_backend"
        else:
            response = _own_answer(conn, request, verdict, extra)
            status_details = "response_sent_by_backend"
        served_by = dict(response.headers).get("served-by", host.name)
        conn.emit(
            ResponseSent(
                summary=f"{response.status}, served-by {served_by}", status=response.status, served_by=served_by
            )
        )
        log(
            conn,
            glblog.entry(
                lb=host.name,
                remote_ip=conn.peer.rpartition(":")[0],
                server_ip=host.ip,
                status=response.status,
                status_details=status_details,
                tls={"protocol": tls.version, "cipher": tls.cipher},
                verdict=verdict,
                method=request.method,
                url=f"https://{request.authority}{request.target}",
                protocol=f"HTTP/{request.http_version}",
                user_agent=request.header("user-agent") or "",
                response_size=0 if request.method == "HEAD" else len(response.body),
                latency_s=time.monotonic() - started,
                backend=route.backend if route else "",
            ),
        )
        return response

    def _own_answer(
        conn: Connection, request: Request, verdict: mtls.Verdict | None, extra: list[tuple[str, str]]
    ) -> Response:
        lines = [
            f"served-by: {host.name}",
            f"address: {host.address}",
            f"sni: {conn.notes.get('sni') or 'none'}",
            f"tls: {conn.notes.get('tls_version')}",
            f"request: {request.line}",
            f"authority: {request.authority or 'none'}",
            f"client-cert: {conn.notes.get('client_cert')}",
            f"mtls-mode: {config.mode or 'none'}",
            f"client-cert-verdict: {('verified' if verdict.chain_verified else verdict.error) if verdict else 'n/a'}",
            *(f"{name}: {value}" for name, value in extra),
        ]
        return Response(
            status=200,
            headers=[("served-by", host.name), ("content-type", "text/plain")],
            body=sized(request.target, ("\n".join(lines) + "\n").encode()),
        )

    async def _forward(conn: Connection, request: Request, backend: Host, extra: list[tuple[str, str]]) -> Response:
        conn.emit(
            Forwarded(
                summary=f"URL map: {request.authority}{request.target} -> backend {backend.name} ({backend.address})",
                backend=backend.name,
            )
        )
        upstream: trio.abc.Stream = await world.connect_upstream(backend.ip, backend.port, source=host)
        assert isinstance(backend.settings, BackendSettings)
        if backend.settings.tls:
            client_ctx = ssl.create_default_context()
            client_ctx.check_hostname = False
            client_ctx.verify_mode = ssl.CERT_NONE  # the load balancer's hop to its own backend
            client_ctx.set_alpn_protocols(["http/1.1"])
            upstream = trio.SSLStream(upstream, client_ctx, server_hostname=request.authority.split(":")[0] or None)
        async with upstream:
            headers = [
                ("host", request.authority or backend.ip),
                ("x-lab-via", host.name),
                *extra,
                *((k, v) for k, v in request.headers if k not in ("host", "connection")),
            ]
            return await fetch(
                upstream, method=request.method, target=request.target, headers=headers, body=request.body
            )

    await world.serve_tcp(host, handle, task_status=task_status)
