"""The mTLS load balancer's trio shell: sockets, TLS, HTTP. Every decision is :mod:`.policy`'s or :mod:`.mtls`'s.

Theory of operation. TLS is OpenSSL through pyOpenSSL on memory BIOs (:mod:`lab.runtime.tlsbio`). Every
client gets a CertificateRequest. While OpenSSL processes the client's Certificate message, the verdict
(:func:`.mtls.evaluate`, on the chain exactly as sent: :mod:`lab.runtime.tlsverify`) decides whether the
handshake goes on, and OpenSSL sends the alert for the matching X.509 error. Under
``ALLOW_INVALID_OR_MISSING_CLIENT_CERT`` every handshake goes on and the verdict travels to backends in
custom headers; ``failure_style = "empty-reply"`` also lets a refused certificate finish the handshake and
closes afterwards. HTTP/2 or HTTP/1.1 (by ALPN) is answered through the URL map by a backend host, or by the
load balancer itself. Every request and every refused connection yields one log entry
(:mod:`.logentry`), subject to the logging settings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import trio
from cryptography import x509
from OpenSSL import SSL

from lab.hosts.glb import closing, logentry, mtls, policy
from lab.hosts.glb.forward import forward
from lab.hosts.glb.variables import ConnectionFacts, all_values
from lab.model.events import Forwarded, LogEntry, PeerError, ResponseSent, TlsFailed, TlsOk
from lab.model.glbsettings import GlbSettings, Route
from lab.model.scenario import Host
from lab.runtime.httpserve import PeerProtocolError, Request, Response, guard_for, serve_http, sized
from lab.runtime.pki import Pki
from lab.runtime.tlsbio import OpenSSLStream, TLSHandshakeFailed
from lab.runtime.tlsverify import ClientChainPolicy, Watch
from lab.runtime.world import Connection, World

VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}
VERDICTS_KEPT = 128  # client chains whose verdict the load balancer remembers (a workshop has a few dozen)
# OpenSSL cipher name -> the two bytes of its IANA code ({tls_cipher_suite}), from the system OpenSSL's list.
CIPHER_IDS = {c["name"]: f"{c['id'] & 0xFFFF:04X}" for c in ssl.create_default_context().get_ciphers()}


def trust_config(pki: Pki, settings: GlbSettings) -> mtls.TrustConfig:
    anchors = {"client-ca": pki.client_ca, "rogue-ca": pki.rogue_ca, "lab-root-ca": pki.root}
    return mtls.TrustConfig(
        anchors=tuple(anchors[a].cert for a in settings.anchors),
        allowlist=tuple(pki.clients[c].cert for c in settings.allowlist),
    )


def tls_context(pair_cert: str, pair_key: str, settings: GlbSettings) -> SSL.Context:
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(VERSIONS[settings.tls_min])
    context.set_max_proto_version(VERSIONS[settings.tls_max])
    context.use_certificate_chain_file(pair_cert)
    context.use_privatekey_file(pair_key)
    context.set_options(SSL.OP_NO_TICKET)

    def select_alpn(conn: SSL.Connection, offered: list[bytes]) -> bytes:
        return b"h2" if b"h2" in offered else b"http/1.1" if b"http/1.1" in offered else offered[0]

    context.set_alpn_select_callback(select_alpn)
    return context


@dataclass(slots=True)
class _Conn:
    """One client connection's TLS facts, for events, headers and log entries."""

    tls: OpenSSLStream
    started: float
    arrived: dt.datetime
    verdict: mtls.Verdict | None = None


class LoadBalancer:
    def __init__(self, host: Host, world: World) -> None:
        settings = host.settings
        assert isinstance(settings, GlbSettings)
        self.host, self.world, self.settings = host, world, settings
        self.trust = trust_config(world.pki, settings)
        pair = world.pki.server(host)
        self.context = tls_context(str(pair.cert), str(pair.key), settings)
        if settings.more_certs:  # more certificates: the one for the client's SNI, else the primary (Google's rule)
            others = [world.pki.server(host, spec) for spec in settings.more_certs]
            self.by_sni = [tls_context(str(p.cert), str(p.key), settings) for p in others]
            self.context.set_tlsext_servername_callback(self._choose_certificate)
        # empty-reply lets even a missing certificate finish the handshake, and refuses afterwards
        required = settings.mode == "REJECT_INVALID" and settings.failure_style != "empty-reply"
        self.chain_policy = (
            ClientChainPolicy(self.context, require_certificate=required, decide=self.handshake_decision)
            if settings.mode is not None
            else None
        )
        self.rng = random.Random()
        self._verdicts: OrderedDict[bytes, tuple[int, mtls.Verdict]] = OrderedDict()

    def _choose_certificate(self, conn: SSL.Connection) -> None:
        """OpenSSL's ServerName callback: switch to the certificate for the SNI (the client-certificate policy
        stays the primary context's: OpenSSL keeps the verify settings of the context the connection began with)."""
        sni = conn.get_servername()
        index = self.settings.certificate_for(sni.decode("ascii", "replace") if sni else None)
        if index:
            conn.set_context(self.by_sni[index - 1])

    def judge(self, chain: list[bytes]) -> mtls.Verdict:
        """The verdict on a chain (DER, as sent), remembered for the current minute: clients repeat the same
        certificate, and path validation costs about as much as the handshake's RSA signature. The cache is
        keyed by a digest and holds :data:`VERDICTS_KEPT` chains at most (least recently used goes first)."""
        minute = int(time.time() // 60)
        key = hashlib.sha256(b"".join(len(der).to_bytes(4, "big") + der for der in chain)).digest()
        cached = self._verdicts.get(key)
        if cached is None or cached[0] != minute:
            try:
                certs = [x509.load_der_x509_certificate(der) for der in chain]
                verdict = mtls.evaluate(certs, self.trust, simulate=self.settings.simulate)
            except ValueError as exc:
                verdict = mtls.unparsable(str(exc))
            cached = (minute, verdict)
        self._verdicts[key] = cached
        self._verdicts.move_to_end(key)
        while len(self._verdicts) > VERDICTS_KEPT:
            self._verdicts.popitem(last=False)
        return cached[1]

    def handshake_decision(self, chain: list[bytes]) -> int:
        return policy.handshake_decision(self.judge(chain), self.settings)

    async def handle(self, conn: Connection) -> None:
        style = "alert" if self.settings.failure_style in ("alert", "empty-reply") else self.settings.failure_style
        tls = OpenSSLStream(conn.stream, self.context, failure_style=style)  # type: ignore[arg-type]
        state = _Conn(tls=tls, started=time.monotonic(), arrived=dt.datetime.now(dt.UTC))
        watch = self.chain_policy.watch(tls.conn) if self.chain_policy else Watch()
        try:
            await tls.do_handshake()
        except TLSHandshakeFailed as exc:
            await self._refused_in_handshake(conn, state, exc, watch)
            return
        finally:
            if self.chain_policy:
                self.chain_policy.forget(tls.conn)
        if self.settings.mode is not None:
            state.verdict = self.judge(watch.chain or [])
        self._tls_ok(conn, state)
        if state.verdict is not None and state.verdict.rejected(self.settings.mode):  # empty-reply: refuse now
            await self._refused_after_handshake(conn, state, state.verdict)
            return

        async def respond(request: Request) -> Response:
            return await self.respond(conn, state, request)

        try:
            await serve_http(tls, tls.alpn, respond, guard_for(conn))
        except PeerProtocolError as exc:
            conn.emit(PeerError(summary=str(exc), status=exc.status))
            with trio.move_on_after(1):
                await tls.aclose()  # close_notify: the client learns the load balancer hung up on purpose

    def _tls_ok(self, conn: Connection, state: _Conn) -> None:
        tls, verdict = state.tls, state.verdict
        leaf = verdict.leaf if verdict else None
        conn.notes.update(sni=tls.sni or "", tls_version=tls.version, client_cert=_cn(leaf) if leaf else "none")
        judged = "" if verdict is None else f" ({'verified' if verdict.chain_verified else verdict.detail})"
        conn.emit(
            TlsOk(
                summary=f"{tls.version} handshake ok, SNI {tls.sni or 'none'}, ALPN {tls.alpn or 'none'}, "
                f"client cert: {_cn(leaf) if leaf else 'none'}{judged}",
                sni=tls.sni,
                version=tls.version,
                alpn=tls.alpn,
                cipher=tls.cipher,
                client_cert=_cn(leaf) if leaf else None,
                verdict=verdict.error if verdict else None,
            )
        )

    async def _refused_in_handshake(
        self, conn: Connection, state: _Conn, exc: TLSHandshakeFailed, watch: Watch
    ) -> None:
        version = state.tls.version if state.tls.version != "Unknown" else ""
        # A verdict only when the handshake reached the client's Certificate message and the policy said no:
        # bytes that are not TLS, a client that left, or a failed key proof say nothing about the certificate.
        reached = watch.chain is not None or "certificate" in exc.reason
        verdict = self.judge(watch.chain or []) if self.settings.mode is not None and reached else None
        cause = verdict if verdict is not None and not verdict.chain_verified else None
        refusal = policy.refusal(cause, watch.problem or exc.reason)
        alert = policy.alert_for(cause, version) if cause else exc.alert
        style = self.settings.failure_style
        sent = f"sent alert {alert}" if alert and style in ("alert", "empty-reply") else _HOW[style]
        conn.emit(
            TlsFailed(
                summary=f"handshake failed: {refusal.summary}; {sent}",
                reason=exc.reason,
                alert=alert if style in ("alert", "empty-reply") else None,
                version=version,
                status_details=refusal.status_details,
                client_cert=_cn(cause.leaf) if cause and cause.leaf else None,
                sni=state.tls.sni,
                chosen_alert=alert,
                detail=cause.detail if cause else "",
            )
        )
        self._log(conn, self._closed_seen(conn, state, refusal, cause))
        if style in ("silent", "reset"):
            conn.notes["close_reason"] = _HOW[style]
        await closing.STYLES["alert" if style == "empty-reply" else style](conn.stream, state.tls)

    async def _refused_after_handshake(self, conn: Connection, state: _Conn, verdict: mtls.Verdict) -> None:
        refusal = policy.refusal(verdict, verdict.detail)
        conn.emit(
            TlsFailed(
                summary=f"refused after the handshake: {verdict.detail}; closed without a response",
                reason=verdict.detail,
                version=state.tls.version,
                status_details=refusal.status_details,
                client_cert=_cn(verdict.leaf) if verdict.leaf else None,
                sni=state.tls.sni,
                detail=verdict.detail,
            )
        )
        self._log(conn, self._closed_seen(conn, state, refusal, verdict))
        await closing.empty_reply(conn.stream, state.tls)
        notify = "close_notify, " if closing.sent_close_notify(state.tls) else ""
        conn.notes["close_reason"] = f"{notify}closed without an HTTP response (empty reply)"

    def _seen(self, conn: Connection, state: _Conn, **fields: Any) -> logentry.Seen:
        """What this load balancer saw of this connection, for a log entry."""
        ip, port = _peer(conn)
        return logentry.Seen(lb=self.host.name, client_ip=ip, client_port=port, started=state.arrived, **fields)

    def _closed_seen(
        self, conn: Connection, state: _Conn, refusal: policy.Refusal, verdict: mtls.Verdict | None
    ) -> logentry.Seen:
        return self._seen(
            conn,
            state,
            status_details=refusal.status_details,
            lab_details=refusal.lab_details,
            lab_note=refusal.lab_note,
            verdict=verdict,
        )

    async def respond(self, conn: Connection, state: _Conn, request: Request) -> Response:
        conn.emit(request.event())
        route = policy.route_for(self.settings.routes, request.authority, request.target)
        values = all_values(state.verdict, self._facts(conn, state, request))
        reached = False
        if route is not None:
            backend = self.world.scenario.hosts[route.backend]
            conn.emit(
                Forwarded(
                    summary=f"URL map: {request.authority}{request.target} -> backend {backend.name} "
                    f"({backend.address})",
                    backend=backend.name,
                )
            )
            headers = policy.backend_headers(
                request.headers, self.settings.custom_headers, values, authority=request.authority, via=self.host.name
            )
            response, reached = await forward(self.world, self.host, backend, request, headers)
        else:
            response = self._own_answer(conn, state, request, values)
        served_by = dict(response.headers).get("served-by", self.host.name)
        conn.emit(
            ResponseSent(
                summary=f"{response.status}, served-by {served_by}", status=response.status, served_by=served_by
            )
        )
        self._log(conn, self._request_seen(conn, state, request, response, route, reached))
        return response

    def _request_seen(
        self,
        conn: Connection,
        state: _Conn,
        request: Request,
        response: Response,
        route: Route | None,
        reached: bool,
    ) -> logentry.Seen:
        backend = self.world.scenario.hosts[route.backend] if route else None
        details = policy.answered_status_details(route, reached)
        return self._seen(
            conn,
            state,
            status=response.status,
            status_details=details,
            proxy_status="" if reached or route is None else f'error=connection_refused; details="{details}"',
            tls_protocol=state.tls.version,
            tls_cipher=logentry.iana_cipher(state.tls.cipher),
            verdict=state.verdict,
            method=request.method,
            url=f"https://{request.authority}{request.target}",
            protocol=f"HTTP/{request.http_version}",
            user_agent=request.header("user-agent") or "",
            request_size=len(request.body),
            response_size=0 if request.method == "HEAD" else len(response.body),
            latency_s=time.monotonic() - state.started,
            backend=backend.name if backend else "",
            backend_ip=backend.ip if backend and reached else "",
            backend_port=backend.port if backend and reached else 0,
            matched_rule=route.path if route else "UNMATCHED",
        )

    def _facts(self, conn: Connection, state: _Conn, request: Request) -> ConnectionFacts:
        ip, port = _peer(conn)
        return ConnectionFacts(
            client_ip=ip,
            client_port=str(port),
            server_ip=self.host.ip,
            server_port=str(self.host.port),
            protocol=f"HTTP/{request.http_version}",
            sni=state.tls.sni or "",
            tls_version=state.tls.version,
            cipher_suite=CIPHER_IDS.get(state.tls.cipher, ""),
        )

    def _own_answer(self, conn: Connection, state: _Conn, request: Request, values: dict[str, str]) -> Response:
        verdict = state.verdict
        judged = ("verified" if verdict.chain_verified else verdict.error) if verdict else "n/a"
        lines = [
            f"served-by: {self.host.name}",
            f"address: {self.host.address}",
            f"sni: {conn.notes.get('sni') or 'none'}",
            f"tls: {conn.notes.get('tls_version')}",
            f"request: {request.line}",
            f"authority: {request.authority or 'none'}",
            f"client-cert: {conn.notes.get('client_cert')}",
            f"mtls-mode: {self.settings.mode or 'none'}",
            f"client-cert-verdict: {judged}",
            *(f"{h.name}: {h.render(values)}" for h in self.settings.custom_headers),
        ]
        return Response(
            status=200,
            headers=[("served-by", self.host.name), ("content-type", "text/plain")],
            body=sized(request.target, ("\n".join(lines) + "\n").encode()),
        )

    def _log(self, conn: Connection, seen: logentry.Seen) -> None:
        decision = self.settings.log.decide(self.rng)
        what = f"status {seen.status} {seen.status_details or seen.lab_details}"
        if decision.written:
            record = logentry.entry(self.settings, seen, self.rng)
            conn.emit(LogEntry(summary=f"log entry: {what}", written=True, entry=record))
        else:
            summary = f"no log entry ({what}): {decision.reason}"
            conn.emit(LogEntry(summary=summary, written=False, reason=decision.reason))


_HOW = {
    "alert": "closed",
    "empty-reply": "closed",
    "silent": "held silently until the client gave up",
    "reset": "sent RST",
}


def _peer(conn: Connection) -> tuple[str, int]:
    ip, _, port = conn.peer.rpartition(":")
    return ip.strip("[]"), int(port)


def _cn(cert: x509.Certificate | None) -> str:
    if cert is None:
        return "none"
    names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    balancer = LoadBalancer(host, world)
    await world.serve_tcp(host, balancer.handle, task_status=task_status)
