"""What one curl command was observed to do: curl's own output and the hosts' events, nothing assumed.

Theory of operation. Two independent witnesses saw the command run: curl (its exit code, its error line
and, with ``-v``, the handshake and certificate lines read by :mod:`lab.protocols.curlv`) and the lab's
hosts (typed events, :mod:`lab.model.events`). :func:`gather` sorts both into :class:`Facts`, one field
per question a hop of the explanation asks ("did a ClientHello reach the server?", "did curl accept the
server's certificate?"). An answer neither witness gave is ``None`` - never a default guessed from the
command line. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.model.events import (
    Accepted,
    ClientHelloSeen,
    Closed,
    Event,
    Forwarded,
    LimitReached,
    Listening,
    NoAnswer,
    PeerError,
    RequestReceived,
    Resolved,
    ResponseSent,
    TlsFailed,
    TlsOk,
    TunnelOpened,
    TunnelRefused,
    TunnelRequested,
    answered,
    first,
)
from lab.model.outcome import CurlResult
from lab.model.scenario import Scenario
from lab.protocols import curlv, tlsalert
from lab.protocols.curlexit import CurlExit

PROXY_KINDS = ("http-proxy", "socks5")
# What a proxy's answer means: it could not reach the destination (the routing's failure, not its policy).
UNREACHED_HTTP = (502, 503, 504)
UNREACHED_SOCKS = (3, 4, 5, 6)  # RFC 1928: network unreachable, host unreachable, connection refused, TTL expired
# What a TLS client sends when it refuses the server's certificate (RFC 8446 6.2).
CERTIFICATE_ALERTS = frozenset(
    {"bad_certificate", "unsupported_certificate", "certificate_revoked", "certificate_expired",
     "certificate_unknown", "unknown_ca"}
)  # fmt: skip
# curl's own verdict on the server certificate, as its error line or -v says it (curl 7.x and 8.x, OpenSSL).
_CURL_CERT_PROBLEM = re.compile(
    r"(SSL certificate problem: .+|SSL: no alternative certificate subject name matches .+|"
    r"SSL: certificate subject name .+ does not match .+|error setting certificate (?:verify locations|file).*)"
)
_ERROR_PREFIX = re.compile(r"^curl: (?:\(\d+\) )?")


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """Everything a hop may state. Host-side fields come from events, ``curl`` from curl's stderr."""

    exit_code: int
    message: str | None  # curl's error line without "curl: (N) "; None when curl printed none (-s, or success)
    curl: curlv.CurlVerbose
    proxy: str | None = None  # the lab proxy curl's TCP connection reached
    asked: TunnelRequested | None = None
    resolved: Resolved | None = None
    opened: TunnelOpened | None = None
    refused: TunnelRefused | None = None
    tunnel_hello: ClientHelloSeen | None = None  # the ClientHello the proxy saw pass through its tunnel
    server: str | None = None  # the first host that accepted a connection that is not a proxy
    server_kind: str | None = None
    server_address: str | None = None
    failure_style: str | None = None  # how the server ends a handshake it refuses (a glb's setting)
    server_versions: tuple[str, str] | None = None  # the TLS versions the server accepts (a glb's setting)
    tls_ok: TlsOk | None = None
    tls_failed: TlsFailed | None = None
    request: RequestReceived | None = None
    response: ResponseSent | None = None  # the response that reached the client
    forwarded: Forwarded | None = None
    bytes_in: int | None = None  # what the server read from the client, once it closed
    bytes_out: int | None = None  # what the server sent back
    proxy_env: tuple[str, ...] = ()  # proxy variables curl -v says it used
    proxy_kind: str | None = None  # the kind of the proxy host curl reached ("http-proxy", "socks5")
    proxy_https: bool = False  # that proxy speaks TLS to the client (-x https://)
    proxy_curl: curlv.CurlVerbose | None = None  # curl -v's lines about the TLS to an HTTPS proxy
    proxy_tls_ok: TlsOk | None = None  # the HTTPS proxy's own handshake with curl
    proxy_tls_failed: TlsFailed | None = None
    proxy_garbage: PeerError | None = None  # the proxy read something that is not a proxy request
    server_garbage: PeerError | None = None  # the server read something it could not use (not TLS, not HTTP)
    no_answer: NoAnswer | None = None  # the server read the request and deliberately gave no answer
    redirects: tuple[ResponseSent, ...] = ()  # the redirects curl followed (-L) before the request these facts are of
    limit: LimitReached | None = None  # the server hung up (or answered 413) at one of its limits
    proxy_limit: LimitReached | None = None  # the proxy did

    @property
    def verbose(self) -> bool:
        """curl printed -v lines (so a missing line means it did not happen)."""
        return bool(self.curl.key_lines or self.curl.handshake)

    @property
    def reached(self) -> str | None:
        return self.response.host if self.response else None

    @property
    def hello_reached_server(self) -> bool:
        """A TLS ClientHello arrived at the server (its handshake event, its byte count, or the tunnel saw it)."""
        if self.tls_ok is not None or self.tunnel_hello is not None:
            return True
        if self.tls_failed is None:
            return False
        return self.tls_failed.sni is not None or bool(self.tls_failed.alpn) or bool(self.bytes_in)

    @property
    def own_tls_problem(self) -> str | None:
        """curl could not set up TLS with its own options - a cipher or curve list its TLS library refused, a
        --tls-max below the minimum version - so it sent no ClientHello: in curl's words."""
        said = (self.message or "").removeprefix("curl: ")
        if self.hello_reached_server:
            return None
        if self.exit_code == CurlExit.SSL_CIPHER or (
            self.exit_code == CurlExit.SSL_CONNECT_ERROR and "CURL_SSLVERSION" in said
        ):
            return said or f"curl exit {self.exit_code}"
        return None

    @property
    def hello_sent(self) -> bool | None:
        """curl sent a ClientHello: -v says so, or a host read one; None when neither can tell."""
        if self.verbose:
            return "OUT Client hello" in self.curl.handshake
        return True if self.hello_reached_server else None

    @property
    def curl_cert_problem(self) -> str | None:
        """curl's own check of the server certificate failed: in curl's words, or the evidence it left.

        curl exit 60 also reports a TLS 1.2 alert about the *client's* certificate ("SSL certificate
        verification failed"); the server's event tells the two apart.
        """
        if self.stopped_at_proxy:
            return None  # curl's words were about the proxy's certificate (proxy_cert_problem)
        for line in (self.message or "", *self.curl.key_lines):
            found = _CURL_CERT_PROBLEM.search(line)
            if found:
                return found.group(1)
        if self.exit_code == CurlExit.SSL_CACERT_BADFILE:
            return self.message or "curl could not load CA certificates to check the server with"
        if self.client_cert_refused and (
            self.exit_code != CurlExit.PEER_FAILED_VERIFICATION or self.tls_failed_version != "TLSv1.3"
        ):
            return None  # the server's alert about the client certificate, not curl's own check
        for direction, alert in self.curl.alerts:
            if direction == "OUT" and alert in CERTIFICATE_ALERTS:  # (curl 8 also sends decode_error on an EOF)
                return f"curl sent alert {alert}"
        if self.exit_code in (CurlExit.PEER_FAILED_VERIFICATION, CurlExit.OBSOLETE51) and self.alert_in is None:
            # curl 7.88 says "SSL certificate verification failed" for an alert that came in (TLS 1.2): that is
            # the server refusing, not curl; with no alert in, exit 60 is curl's own verdict
            return self.message or f"curl exit {self.exit_code}: the server's certificate failed curl's check"
        if self.tls_failed is not None and self.server_kind == "backend" and "alert" in self.tls_failed.reason:
            return f"{self.server} reports: {self.tls_failed.reason}"
        return None

    @property
    def sni_read(self) -> tuple[bool, str | None]:
        """(a host read the ClientHello's server name, the name): a server that gave up before reading it
        (an unsupported TLS version) reports none, which says nothing about what curl sent."""
        if self.tls_ok is not None:
            return True, self.tls_ok.sni
        if self.tunnel_hello is not None:
            return True, self.tunnel_hello.sni
        failed = self.tls_failed
        if failed is not None and (
            failed.sni is not None or failed.alpn or self.client_cert_refused or failed.stopped == "client-hello"
        ):
            return True, failed.sni
        return False, None

    @property
    def proxy_refused_itself(self) -> bool:
        """The proxy refused for its own reasons - credentials, policy, or no answer at all - not because it
        could not reach the destination (HTTP 502/503/504; SOCKS 3-6: no address for the name, or the target
        refused), which is the routing's failure."""
        refused = self.refused
        if refused is None:
            return False
        if self.asked is None or refused.status is None:
            return True
        unreached = UNREACHED_SOCKS if self.proxy_kind == "socks5" else UNREACHED_HTTP
        return refused.status not in unreached

    @property
    def proxy_cert_problem(self) -> str | None:
        """curl refused the HTTPS proxy's certificate: in curl's words, or the alert it sent the proxy."""
        if not self.proxy_https or self.proxy_client_cert_refused or self.proxy is None or self.asked is not None:
            return None
        said = self.proxy_curl or self.curl
        for line in (self.message or "", *said.key_lines):
            found = _CURL_CERT_PROBLEM.search(line)
            if found:
                return found.group(1)
        for direction, alert in said.alerts:
            if direction == "OUT" and alert in CERTIFICATE_ALERTS:
                return f"curl sent the proxy alert {alert}"
        failed = self.proxy_tls_failed
        received = tlsalert.from_text(failed.reason) if failed else None
        if received in CERTIFICATE_ALERTS:
            return f"the proxy received alert {received} from curl"
        return None

    @property
    def stopped_at_proxy(self) -> bool:
        """curl never got past an HTTPS proxy's own TLS: its handshake failed, or curl asked it nothing."""
        return self.proxy_https and self.proxy is not None and (self.proxy_tls_failed is not None or self.asked is None)

    @property
    def proxy_client_cert_refused(self) -> bool:
        """The HTTPS proxy asked curl for a client certificate and refused what it got (or that none came)."""
        failed = self.proxy_tls_failed
        return failed is not None and failed.status_details.startswith("client_cert")

    @property
    def no_common_version(self) -> bool:
        """Client and server share no TLS version: the protocol_version alert, either way, or curl's words."""
        failed = self.tls_failed
        alerts = {failed.alert, failed.chosen_alert} if failed else set()
        alerts |= {alert for _, alert in self.curl.alerts}
        if "protocol_version" in alerts:
            return True
        words = (self.message or "").lower()
        return any(k in words for k in ("alert protocol version", "unsupported protocol", "no protocols available"))

    @property
    def refusal(self) -> str:
        """How the server told the client it refused the handshake: its alert, or why there was none."""
        failed = self.tls_failed
        if failed is not None and failed.alert:
            return f"alert {failed.alert}"
        if self.failure_style == "silent":
            return "no alert: it held the connection open"
        if self.failure_style == "reset":
            return "no alert: it reset the connection"
        return "no alert"

    @property
    def tls_failed_version(self) -> str:
        return self.tls_failed.version if self.tls_failed else ""

    @property
    def alert_in(self) -> str | None:
        """The TLS alert curl received (-v, or named in its error line), ignoring close_notify."""
        for direction, alert in self.curl.alerts:
            if direction == "IN" and alert != "close_notify":
                return alert
        return tlsalert.from_text(self.message or "")

    @property
    def client_cert_refused(self) -> bool:
        """The server judged the client's certificate (sent or missing) and ended the handshake over it."""
        return self.tls_failed is not None and self.tls_failed.status_details.startswith("client_cert")

    @property
    def server_judged_client_cert(self) -> bool:
        """The server got as far as the client's Certificate message (so curl had accepted the server's)."""
        return self.client_cert_refused or (self.tls_ok is not None and self.tls_ok.verdict is not None)


def gather(result: CurlResult, scenario: Scenario) -> Facts:
    """Sort what curl printed and what the hosts reported into :class:`Facts`.

    When curl followed redirects (``-L``), the facts are of its last request - where the outcome happened -
    and ``redirects`` lists the answers it followed to get there."""
    everything = tuple(e for e in result.events if not isinstance(e, Listening))
    redirects, events = _last_request(everything)
    proxies = {h.name for h in scenario.hosts.values() if h.kind in PROXY_KINDS}
    # a host at its limits.max_connections takes the TCP connection and closes it at once: one event, no conn id
    arrivals = [e for e in events if isinstance(e, Accepted) or (isinstance(e, LimitReached) and not e.conn)]
    proxy_accept = next((e for e in arrivals if e.host in proxies), None)
    at_proxy = {proxy_accept.host} if proxy_accept else proxies
    accepted = next((e for e in arrivals if e.host not in proxies), None)
    conn = _connection(events, accepted)
    proxy_conn = _connection(events, proxy_accept)
    server = scenario.hosts.get(accepted.host) if accepted else None
    proxy_host = scenario.hosts.get(proxy_accept.host) if proxy_accept else None
    proxy_https = proxy_host is not None and getattr(proxy_host.settings, "cert", None) is not None
    closed = first(conn, Closed)
    message = _ERROR_PREFIX.sub("", result.verbose.error) if result.verbose.error else None
    curl, proxy_curl = result.verbose, None
    if proxy_https:  # two handshakes in one -v output: the proxy's, then (through the tunnel) the server's
        before, after = curlv.split_at_tunnel(result.stderr)
        curl, proxy_curl = curlv.parse(after), curlv.parse(before)
    return Facts(
        exit_code=result.exit_code,
        message=message,
        curl=curl,
        proxy=proxy_accept.host if proxy_accept else None,
        asked=first(events, TunnelRequested, at_proxy),
        resolved=first(events, Resolved, at_proxy),
        opened=first(events, TunnelOpened, at_proxy),
        refused=first(events, TunnelRefused, at_proxy),
        tunnel_hello=first(events, ClientHelloSeen, at_proxy),
        server=accepted.host if accepted else None,
        server_kind=server.kind if server else None,
        server_address=server.address if server else None,
        failure_style=getattr(server.settings, "failure_style", None) if server else None,
        server_versions=_versions(server.settings) if server and not _forced(conn) else None,
        tls_ok=first(conn, TlsOk),
        tls_failed=first(conn, TlsFailed),
        request=first(conn, RequestReceived),
        response=answered(events),
        forwarded=first(conn, Forwarded),
        bytes_in=closed.received if closed else None,
        bytes_out=closed.sent if closed else None,
        proxy_env=result.proxy_env,
        proxy_kind=proxy_host.kind if proxy_host else None,
        proxy_https=proxy_https,
        proxy_curl=proxy_curl,
        proxy_tls_ok=first(proxy_conn, TlsOk) if proxy_https else None,
        proxy_tls_failed=first(proxy_conn, TlsFailed) if proxy_https else None,
        proxy_garbage=first(proxy_conn, PeerError),
        server_garbage=first(conn, PeerError),
        no_answer=first(conn, NoAnswer),
        redirects=redirects,
        limit=first(conn, LimitReached),
        proxy_limit=first(proxy_conn, LimitReached),
    )


def _last_request(events: tuple[Event, ...]) -> tuple[tuple[ResponseSent, ...], tuple[Event, ...]]:
    """(the redirects curl followed, the events of its last request): a redirect was followed when a host
    answered 3xx with a Location and the client then made another request (a new connection, or the same one)."""
    client_facing = [e for e in events if isinstance(e, ResponseSent) and not e.via]
    followed: list[ResponseSent] = []
    for response in client_facing:
        later = [e for e in events if e.t > response.t and isinstance(e, Accepted | RequestReceived | TunnelRequested)]
        if 300 <= response.status < 400 and response.location and later:
            followed.append(response)
    if not followed:
        return (), events
    cut = followed[-1].t
    # the connections of the last request: those with events after the cut (a connection curl used again keeps
    # its earlier events - its handshake - but not its earlier answers)
    kept = {(e.host, e.conn) for e in events if e.t > cut and not isinstance(e, Closed)}
    last = tuple(
        e
        for e in events
        if (e.host, e.conn) in kept and (e.t > cut or not isinstance(e, RequestReceived | ResponseSent))
    )
    return tuple(followed), last


def _forced(conn: tuple[Event, ...]) -> bool:
    """The host refused the ClientHello on purpose (its ``fail`` setting): its TLS versions did not decide."""
    failed = first(conn, TlsFailed)
    return failed is not None and failed.stopped == "client-hello"


def _versions(settings: object) -> tuple[str, str] | None:
    low, high = getattr(settings, "tls_min", None), getattr(settings, "tls_max", None)
    return (low, high) if isinstance(low, str) and isinstance(high, str) else None


def _connection(events: tuple[Event, ...], accepted: Event | None) -> tuple[Event, ...]:
    """The events of the server's side of curl's connection (one connection id)."""
    if accepted is None:
        return ()
    return tuple(e for e in events if e.host == accepted.host and e.conn == accepted.conn)
