"""Independent checks of an explanation against what curl printed and what the hosts reported.

Deliberately written apart from :mod:`lab.explain.facts`: its own few regular expressions over curl's raw
stderr and its own reading of the raw events. :func:`contradictions` lists every claim of a verdict (hop
texts, hop statuses, diagram arrows, the one decision, the learner-facing words) that a witness
contradicts; the differential test and the unit tests require the list to be empty.
"""

from __future__ import annotations

import re
from itertools import takewhile

from lab.explain.narrate import sequence
from lab.explain.verdict import Verdict
from lab.model import deciders
from lab.model.events import (
    Accepted,
    ClientHelloSeen,
    Closed,
    Event,
    Forwarded,
    LimitReached,
    NoAnswer,
    Resolved,
    ResponseSent,
    TlsFailed,
    TlsOk,
    TunnelRefused,
    TunnelRequested,
)
from lab.model.outcome import CurlResult
from lab.model.scenario import Scenario
from lab.protocols import tlsalert

PYTHON_INTERNALS = re.compile(r"\w+(?:Error|Exception)\b|_ssl\.c|\[SSL: |Traceback|\bNone\b")
_CONNECTED = re.compile(r"^\* Connected to \S+ \(([^)]+)\) port (\d+)", re.MULTILINE)
_CLIENT_HELLO = re.compile(r"^\* TLSv[\d.]+ \(OUT\), TLS handshake, Client hello", re.MULTILINE)
_SERVER_HELLO = re.compile(r"^\* TLSv[\d.]+ \(IN\), TLS handshake, Server hello", re.MULTILINE)
_VERIFY_OK = re.compile(r"^\*\s+SSL certificate verify ok\.", re.MULTILINE)
_CURL_REFUSED = re.compile(r"SSL certificate problem|no alternative certificate subject name|does not match target")
_SERVED_BY = re.compile(r"^< served-by: (\S+)", re.MULTILINE | re.IGNORECASE)
_ALERT_IN = re.compile(r"^\* TLSv[\d.]+ \(IN\), TLS alert, .*\((\d+)\)", re.MULTILINE)
_CONNECT_LINE = re.compile(r"^> CONNECT (\S+) HTTP", re.MULTILINE)
_TUNNEL_UP = re.compile(r"^\* (?:CONNECT tunnel established|CONNECT phase completed).*$", re.MULTILINE)


def marked(lines: list[str]) -> list[str]:
    """The printed lines that carry the ◀ decisive mark."""
    return [line for line in lines if line.endswith("◀ decisive")]


def must_be_marked(lines: list[str], verdict: Verdict, hop_key: str, width: int) -> list[str]:
    """The printed lines that must carry ◀ decisive, and no others: the last line of hop ``hop_key``'s block (found
    by its title, whatever its icon), then each diagram row the verdict marks, as drawn at ``width`` columns."""
    title = next(h.title for h in verdict.hops if h.key == hop_key)
    head = re.compile(rf"^ [▶✓✗·•]  {re.escape(title)}  ")
    start = next(i for i, line in enumerate(lines) if head.match(line))
    block = [lines[start], *takewhile(lambda line: line.startswith("    "), lines[start + 1 :])]
    return [block[-1], *(row.line.rstrip() for row in sequence(verdict, width) if row.decisive)]


def _hop(verdict: Verdict, key: str) -> tuple[str, str] | None:
    found = next((h for h in verdict.hops if h.key == key), None)
    return (found.text, found.status) if found else None


def contradictions(scenario: Scenario, result: CurlResult, verdict: Verdict) -> list[str]:
    """Every claim a witness contradicts (empty: the explanation holds)."""
    problems: list[str] = []
    events = result.events
    proxies = {h.name for h in scenario.hosts.values() if h.kind in ("http-proxy", "socks5")}
    problems += _shape(verdict)
    problems += _one_decision(verdict)
    problems += _words(result, verdict)
    behind = {e.host for e in events if isinstance(e, ResponseSent) and e.via}  # backends behind a load balancer
    # a host at its limits.max_connections takes the TCP connection and closes it at once (one event, no conn id)
    arrived = [e for e in events if isinstance(e, Accepted) or (isinstance(e, LimitReached) and not e.conn)]
    targets = [e for e in arrived if e.host not in proxies | behind]
    follows = any(a in ("-L", "--location") or re.fullmatch(r"-[a-zA-Z]*L[a-zA-Z]*", a) for a in result.argv)
    target = (targets[-1] if follows else targets[0]) if targets else None  # -L: the last request's connection
    conn = [e for e in events if target and e.host == target.host and e.conn == target.conn]
    problems += _tcp(scenario, result, verdict, target, proxies, follows)
    tls_proxies = {h.name for h in scenario.hosts.values() if getattr(h.settings, "cert", None) and h.name in proxies}
    to_proxy, to_server = _split_stderr(result, tls_proxies)
    problems += _tls(result, to_server, verdict, conn, [e for e in events if isinstance(e, ClientHelloSeen)])
    problems += _proxy_tls(to_proxy, verdict, [e for e in events if e.host in tls_proxies])
    problems += _proxy(result, verdict, events)
    problems += _answer(result, verdict, events)
    received = {tlsalert.name(int(n)) for n in _ALERT_IN.findall(result.stderr)}
    problems += _arrows(verdict, events, received)
    problems += _host_behaviour(verdict, events, received, proxies)
    hello = _CLIENT_HELLO.search(to_server) or any(
        isinstance(e, ClientHelloSeen) or (isinstance(e, TlsOk | TlsFailed) and (e.sni or e.alpn)) for e in conn
    )
    said_nothing = [m.label for m in verdict.messages if "nothing sent" in m.label]
    if hello and said_nothing:
        problems.append(f"the diagram says {said_nothing[0]!r}, but curl sent a ClientHello")
    return problems


_SAID_ALERT = re.compile(r"(?:answered it with|refused the handshake with|refused the ClientHello with) alert (\w+)")
_FOLLOWED = re.compile(r"(\S+)'s (\d{3}) to ")


def _host_behaviour(verdict: Verdict, events: tuple[Event, ...], received: set[str], proxies: set[str]) -> list[str]:
    """What the explanation says a host did - an alert, a refusal, a redirect followed - the host reported."""
    problems = []
    texts = [verdict.lesson, *(h.text for h in verdict.hops)]
    sent = {e.alert for e in events if isinstance(e, TlsFailed) and e.alert} | received
    for text in texts:
        for alert in _SAID_ALERT.findall(text):
            if alert not in sent:
                problems.append(f"{text!r} names alert {alert}, but no host sent it ({sent})")
    redirected = {(e.host, str(e.status)) for e in events if isinstance(e, ResponseSent) and e.location}
    for host, status in _FOLLOWED.findall(verdict.lesson):
        if (host, status) not in redirected:
            problems.append(f"the lesson says {host} redirected with {status}; the hosts report {redirected}")
    proxy = next((h for h in verdict.hops if h.key == "proxy"), None)
    refused = any(isinstance(e, TunnelRefused) and e.host in proxies for e in events)
    if proxy is not None and "it refused:" in proxy.text and not refused:
        problems.append(f"proxy hop {proxy.text!r}, but no proxy reported a refusal")
    if "never answered" in verdict.lesson or "without an answer" in verdict.lesson:
        quiet = any(isinstance(e, NoAnswer | TunnelRefused) or (isinstance(e, TlsFailed) and e.hangup) for e in events)
        if not quiet:
            problems.append("the lesson says a host gave no answer, but none reported holding or hanging up")
    return problems


def _split_stderr(result: CurlResult, tls_proxies: set[str]) -> tuple[str, str]:
    """(curl's lines about the TLS to an HTTPS proxy, the rest): through one, curl makes the proxy's handshake
    first and the server's only once the tunnel is up (curl says so)."""
    if not any(isinstance(e, Accepted) and e.host in tls_proxies for e in result.events):
        return "", result.stderr
    up = _TUNNEL_UP.search(result.stderr)
    return (result.stderr[: up.end()], result.stderr[up.end() :]) if up else (result.stderr, "")


def _proxy_tls(stderr: str, verdict: Verdict, events: list[Event]) -> list[str]:
    """What the proxy hop says of an HTTPS proxy's TLS agrees with curl's lines and the proxy's report."""
    hop = _hop(verdict, "proxy")
    if hop is None or not events:
        return []
    problems = []
    refused = next((e for e in events if isinstance(e, TlsFailed) and e.status_details.startswith("client_")), None)
    if _CURL_REFUSED.search(stderr) and (hop[1] != "fail" or "certificate" not in hop[0]):
        problems.append(f"proxy hop {hop!r}, but curl refused the proxy's certificate")
    if refused is not None and (hop[1] != "fail" or "client certificate" not in hop[0]):
        problems.append(f"proxy hop {hop!r}, but the proxy refused the client certificate ({refused.status_details})")
    if _VERIFY_OK.search(stderr) and "refused the proxy's certificate" in hop[0]:
        problems.append(f"proxy hop {hop!r}, but curl printed 'SSL certificate verify ok' for the proxy")
    return problems


_PROXY_OPTIONS = ("-x", "--proxy", "--preproxy")  # their value is the proxy's URL, not the request's
_HOP_ORDER = ["resolve", "proxy", "proxy-dns", "tcp", "sni", "server-cert", "client-cert", "answer"]


def _shape(verdict: Verdict) -> list[str]:
    """Every hop there, once, in the order a packet meets them (so no check below passes for want of its hop);
    only a refused command line has its one hop, and proxy DNS is there when a proxy was chosen (see _proxy)."""
    keys = [h.key for h in verdict.hops]
    expected = (
        ["command-line"] if keys == ["command-line"] else [k for k in _HOP_ORDER if k in keys or k != "proxy-dns"]
    )
    return [] if keys == expected else [f"hops {keys}, expected {expected}"]


def _one_decision(verdict: Verdict) -> list[str]:
    problems = []
    marked = [h.key for h in verdict.hops if h.decisive]
    if marked != [verdict.decision.hop]:
        problems.append(f"decisive hops {marked}, decision names {verdict.decision.hop}")
    options = {"--resolve", "--connect-to"}  # an option that decided is named on the hop marked decisive
    if verdict.decisive in options and not any(h.decisive and verdict.decisive in h.text for h in verdict.hops):
        problems.append(f"{verdict.decisive} decided, but the hop marked decisive does not name it")
    said = deciders.claims(verdict.lesson)
    if set(said) != {verdict.decisive}:
        problems.append(f"lesson claims {sorted(said)}, decider is {verdict.decisive}")
    if set(deciders.claims(verdict.change)) - {verdict.decisive}:
        problems.append(f"the advice names another decider: {verdict.change}")
    if verdict.decisive == "cert check" and re.search(r"(^|\s)(-k|--insecure|--proxy-insecure)\b", verdict.change):
        problems.append(f"advises turning the certificate check off for {verdict.decision.cause}")
    return problems


def _words(result: CurlResult, verdict: Verdict) -> list[str]:
    texts = [h.text for h in verdict.hops] + [m.label for m in verdict.messages]
    texts += [verdict.lesson, verdict.change] + [e.summary for e in result.events]
    return [f"Python internals in learner text: {t!r}" for t in texts if PYTHON_INTERNALS.search(t)]


def _tcp(
    scenario: Scenario, result: CurlResult, verdict: Verdict, target: Event | None, proxies: set[str], follows: bool
) -> list[str]:
    hop = _hop(verdict, "tcp")
    if hop is None:
        return []
    text, status = hop
    problems = []
    if target is not None:
        where = scenario.hosts[target.host].address
        if not text.startswith(f"{target.host} at {where}"):
            problems.append(f"TCP hop {text!r}, but {target.host} at {where} accepted")
        connected = _CONNECTED.findall(result.stderr)
        used_proxy = any(isinstance(e, Accepted) and e.host in proxies for e in result.events)
        last = connected[-1 if follows else 0] if connected else None
        if last and not used_proxy and f"{last[0]}:{last[1]}" != where.strip("[]"):
            problems.append(f"curl connected to {last}, the TCP hop says {where}")
        resolved = re.search(r" → (.+?) from ", (_hop(verdict, "resolve") or ("", ""))[0])
        addresses = resolved.group(1).split(", ") if resolved else []
        if addresses and not used_proxy and not follows and where.rsplit(":", 1)[0].strip("[]") not in addresses:
            problems.append(
                f"client resolution says {resolved.group(0).strip()}, but {target.host} at {where} accepted"
            )
    elif status == "ok":
        problems.append(f"TCP hop ok ({text!r}) but no lab host accepted")
    return problems


def _tls(
    result: CurlResult, stderr: str, verdict: Verdict, conn: list[Event], tunnel: list[ClientHelloSeen]
) -> list[str]:
    """The server's side of TLS: ``stderr`` is curl's output without what it said of an HTTPS proxy's TLS."""
    problems = []
    verbose = stderr.lstrip().startswith("*") or "\n* " in stderr
    hello_sent = bool(_CLIENT_HELLO.search(stderr))
    handshakes = [e for e in conn if isinstance(e, TlsOk | TlsFailed)]
    closed = next((e for e in conn if isinstance(e, Closed)), None)
    sni = _hop(verdict, "sni")
    if sni is not None:
        seen = [e.sni for e in [*handshakes, *tunnel] if isinstance(e, TlsOk | TlsFailed | ClientHelloSeen)]
        if (verbose and not hello_sent) or (closed is not None and closed.received == 0):
            if "SNI " in sni[0] and "no ClientHello" not in sni[0]:
                problems.append(f"SNI hop {sni[0]!r}, but no ClientHello was sent")
        elif seen and seen[0] and f"SNI {seen[0]}" not in sni[0]:
            problems.append(f"SNI hop {sni[0]!r}, the host read SNI {seen[0]}")
        urls = [a for before, a in zip(("", *result.argv), result.argv, strict=False) if before not in _PROXY_OPTIONS]
        host = re.search(r"https://([^/:]+)", " ".join(urls))
        if host and not re.fullmatch(r"[\d.]+", host.group(1)) and "IP address" in sni[0]:
            problems.append(f"SNI hop {sni[0]!r} for a URL that names {host.group(1)}")
    cert = _hop(verdict, "server-cert")
    if cert is not None:
        text, status = cert
        if _VERIFY_OK.search(stderr) and (status != "ok" or "never" in text):
            problems.append(f"server-cert hop {text!r}, but curl printed 'SSL certificate verify ok'")
        if _CURL_REFUSED.search(stderr) and status != "fail":
            problems.append(f"server-cert hop {text!r}, but curl refused the certificate")
        if verbose and not _SERVER_HELLO.search(stderr) and status == "ok":
            problems.append(f"server-cert hop {text!r}, but no ServerHello reached curl")
    client = _hop(verdict, "client-cert")
    refusal = next((e for e in handshakes if isinstance(e, TlsFailed) and e.status_details.startswith("client_")), None)
    if client is not None and refusal is not None:
        if client[1] != "fail":
            problems.append(f"client-cert hop {client[0]!r}, but {refusal.host} refused ({refusal.status_details})")
        if refusal.alert and refusal.alert not in client[0]:
            problems.append(f"client-cert hop {client[0]!r} does not name the alert {refusal.alert}")
    if client is not None and result.exit_code == 58 and client[1] != "fail":
        problems.append("curl exit 58 (its own certificate or key), but the client-cert hop did not fail")
    return problems


def _proxy(result: CurlResult, verdict: Verdict, events: tuple[Event, ...]) -> list[str]:
    hop = _hop(verdict, "proxy-dns")
    asked = next((e for e in events if isinstance(e, TunnelRequested)), None)
    resolved = next((e for e in events if isinstance(e, Resolved)), None)
    problems = []
    if hop is None:
        return ["a proxy was asked, but there is no proxy DNS hop"] if asked else []
    if asked is not None and asked.target not in hop[0] and asked.line.rsplit(" HTTP/", 1)[0] not in hop[0]:
        problems.append(f"proxy DNS hop {hop[0]!r}, the proxy was asked {asked.target}")
    for line in _CONNECT_LINE.findall(result.stderr):
        if line not in hop[0]:
            problems.append(f"proxy DNS hop {hop[0]!r}, curl printed CONNECT {line}")
    if resolved is not None and resolved.address not in hop[0]:
        problems.append(f"proxy DNS hop {hop[0]!r}, the proxy resolved to {resolved.address}")
    return problems


def _answer(result: CurlResult, verdict: Verdict, events: tuple[Event, ...]) -> list[str]:
    hop = _hop(verdict, "answer")
    responses = [e for e in events if isinstance(e, ResponseSent) and not e.via]
    if hop is None:
        return []
    problems = []
    final = hop[0].rsplit("; ", 1)[-1]  # after the redirects -L followed
    moved_on = responses and 300 <= responses[-1].status < 400 and result.exit_code != 0 and "-L" in result.argv
    if moved_on and not final.startswith("nobody"):  # curl followed the last redirect, and failed after it
        problems.append(f"answer hop {hop[0]!r}, but curl failed after {responses[-1].host}'s redirect")
    elif responses and not moved_on and not final.startswith(f"{responses[-1].host}:"):
        problems.append(f"answer hop {hop[0]!r}, but {responses[-1].host} answered")
    if not responses and hop[1] == "ok":
        problems.append(f"answer hop {hop[0]!r}, but no host answered")
    for served in _SERVED_BY.findall(result.stderr):
        if served not in hop[0]:
            problems.append(f"answer hop {hop[0]!r}, curl got served-by: {served}")
    return problems


def _arrows(verdict: Verdict, events: tuple[Event, ...], received: set[str]) -> list[str]:
    """Every arrow of the diagram has a witness: the host at its end reported it, or curl printed it."""
    problems = []
    accepted = {e.host for e in events if isinstance(e, Accepted) or (isinstance(e, LimitReached) and not e.conn)}
    read_bytes = {(e.host, e.conn) for e in events if isinstance(e, Closed) and e.received > 0}
    tunnelled = any(isinstance(e, ClientHelloSeen) for e in events)

    def read_hello(host: str) -> bool:
        return tunnelled or any(
            isinstance(e, TlsOk) or (isinstance(e, TlsFailed) and (e.sni or e.alpn or (e.host, e.conn) in read_bytes))
            for e in events
            if e.host == host
        )

    for m in verdict.messages:
        if m.src != m.dst and m.label.startswith("TCP ") and m.dst not in accepted:
            problems.append(f"arrow {m.label!r} to {m.dst}, which accepted nothing")
        if "ClientHello" in m.label and m.dst != "client" and not read_hello(m.dst):
            problems.append(f"arrow {m.label!r}, but {m.dst} read no ClientHello")
        if m.label.startswith("alert "):
            sent = {e.alert for e in events if isinstance(e, TlsFailed) and e.host == m.src} | received
            if m.label.removeprefix("alert ") not in sent:
                problems.append(f"arrow {m.label!r}, {m.src} sent {sent}")
        if m.label == "URL map → backend" and not any(isinstance(e, Forwarded) for e in events):
            problems.append("a URL map arrow without a forwarded request")
    if not any(m.decisive for m in verdict.messages):
        problems.append("the diagram marks no row decisive")
    return problems
