"""The sequence diagram of one request: lanes (client, proxy, server, backend) and the arrows between them.

Every arrow is something a witness saw: a host accepted the TCP connection, a proxy was asked, a
ClientHello arrived, an alert was sent, curl printed that it refused a certificate. Each arrow carries a
tag (:data:`lab.explain.decide.Mark`); the decision says which tags are decisive, so the diagram marks
the same hop as the hop list. Pure; :mod:`lab.explain.layout` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.explain.curlplan import Plan
from lab.explain.decide import Decision, tls_options_stop
from lab.explain.ending import ending
from lab.explain.facts import Facts
from lab.explain.hops import ask_label
from lab.protocols.curlexit import CurlExit


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One arrow of the sequence diagram (``src == dst``: a note on that lane)."""

    src: str
    dst: str
    label: str
    tag: str = ""
    decisive: bool = False
    failed: bool = False


def draw(plan: Plan, facts: Facts, decision: Decision) -> tuple[tuple[str, ...], tuple[Message, ...]]:
    """(lanes, messages) for the step; rows whose tag the decision marks are decisive."""
    lanes = ["client"]
    rows: list[Message] = []
    if decision.hop == "command-line":
        rows.append(
            Message(src="client", dst="client", label="curl: usage error, nothing sent", tag="usage", failed=True)
        )
    else:
        _proxy_rows(plan, facts, lanes, rows)
        _server_rows(plan, facts, lanes, rows)
    marked = tuple(
        Message(src=m.src, dst=m.dst, label=m.label, tag=m.tag, failed=m.failed, decisive=m.tag in decision.marks)
        for m in rows
    )
    return tuple(dict.fromkeys(lanes)), marked


def _proxy_rows(plan: Plan, facts: Facts, lanes: list[str], rows: list[Message]) -> None:
    proxy = plan.proxy
    if proxy is None:
        return
    if facts.proxy is None:
        if plan.lookup is not None and plan.lookup.address is None:
            rows.append(_note("client", f"DNS {proxy.host}: no address", "no-address", failed=True))
        else:
            rows.append(_note("client", f"TCP {proxy.address}: nothing accepted", "tcp", failed=True))
        return
    lane = facts.proxy
    lanes.append(lane)
    rows.append(Message(src="client", dst=lane, label=f"TCP {proxy.address}", tag="tcp"))
    if facts.proxy_limit is not None and facts.asked is None:
        label = f"closes: limits.{facts.proxy_limit.limit}"
        rows.append(Message(src=lane, dst="client", label=label, tag="refusal", failed=True))
        return
    if tls_options_stop(plan, facts) == "proxy":
        rows.append(_note("client", "curl: cannot set up TLS with its options; nothing sent", "usage", failed=True))
        return
    if _proxy_tls_rows(plan, facts, lane, rows):
        return
    target = plan.target_lookup  # socks5:// - curl looks the target up itself, after connecting to the proxy
    if facts.asked is None and target is not None and target.address is None:
        rows.append(_note("client", f"DNS {target.name}: no address", "no-address", failed=True))
        return
    if facts.asked is not None:
        rows.append(Message(src="client", dst=lane, label=ask_label(facts), tag="ask"))
    if facts.resolved is not None:
        resolved = facts.resolved
        label = (
            f"{resolved.name}: IP literal, no lookup"
            if resolved.table == "IP literal"
            else f"DNS {resolved.name} → {resolved.address}"
        )
        rows.append(_note(lane, label, "proxy-dns"))
    if facts.refused is not None:
        said = _HANGUPS.get(facts.refused.hangup) or facts.refused.summary.split(":")[0] or "refused"
        rows.append(Message(src=lane, dst="client", label=said, tag="refusal", failed=True))


_HANGUPS = {"fin": "closes: no answer", "rst": "resets: no answer", "hold": "holds: no answer"}


def _proxy_tls_rows(plan: Plan, facts: Facts, lane: str, rows: list[Message]) -> bool:
    """The TLS between curl and an HTTPS proxy (or curl's TLS to a plain one): True when it ended there."""
    assert plan.proxy is not None
    if plan.proxy.scheme == "https" and not facts.proxy_https and facts.proxy_garbage is not None:
        rows.append(Message(src="client", dst=lane, label="TLS handshake, read as HTTP", tag="hello"))
        rows.append(Message(src=lane, dst="client", label="plain HTTP: not TLS", tag="proxy-tls", failed=True))
        return True
    if not facts.proxy_https:
        return False
    if plan.proxy.scheme != "https":
        if facts.proxy_tls_failed is not None:
            rows.append(Message(src="client", dst=lane, label="plain HTTP request", tag="ask"))
            rows.append(Message(src=lane, dst="client", label="wants TLS: no answer", tag="proxy-tls", failed=True))
            return True
        return False
    rows.append(Message(src="client", dst=lane, label="TLS ClientHello (to the proxy)", tag="hello"))
    failed = facts.proxy_tls_failed
    problem = facts.proxy_cert_problem
    if problem is not None:
        rows.append(Message(src=lane, dst="client", label="ServerHello, certificate"))
        label = f"curl refuses the proxy's certificate: {_short(problem)}"
        rows.append(_note("client", label, "proxy-tls", failed=True))
        return True
    if failed is not None and facts.proxy_client_cert_refused:
        rows.append(Message(src=lane, dst="client", label="ServerHello, certificate, CertificateRequest"))
        alert = f"alert {failed.alert}" if failed.alert else "refuses the client certificate"
        rows.append(Message(src=lane, dst="client", label=alert, tag="proxy-tls", failed=True))
        return True
    if facts.proxy_tls_ok is not None:
        rows.append(Message(src=lane, dst="client", label=f"{facts.proxy_tls_ok.version} ok"))
    return False


def _server_rows(plan: Plan, facts: Facts, lanes: list[str], rows: list[Message]) -> None:
    server = facts.server
    if server is None:
        if plan.proxy is None:
            _no_server(plan, facts, rows)
        return
    for followed in facts.redirects:  # the answers -L followed before this request
        rows.append(_note("client", f"-L: {followed.host} {followed.status} → {followed.location}", "redirect"))
    lanes.append(server)
    source = facts.proxy or "client"
    rows.append(
        Message(
            src=source, dst=server, label=f"TCP {facts.server_address}", tag="tcp" if source == "client" else "upstream"
        )
    )
    _tls_rows(plan, facts, server, rows)
    request = facts.request
    if request is not None:
        rows.append(
            Message(src="client", dst=server, label=f"{request.method} {request.target}, Host {request.authority}")
        )
    end = ending(plan, facts)
    if end is not None and (end.kind == "no-answer" or (end.kind == "limit" and facts.response is None)):
        rows.append(Message(src=server, dst="client", label=end.label, tag="hangup", failed=True))
    if facts.forwarded is not None:
        backend = facts.forwarded.backend
        lanes.append(backend)
        rows.append(Message(src=server, dst=backend, label="URL map → backend"))
        rows.append(Message(src=backend, dst=server, label="response"))
    if facts.response is not None:
        served = facts.response.served_by or facts.response.host
        moved = f" → {facts.response.location}" if facts.response.location else ""
        rows.append(Message(src=server, dst="client", label=f"{facts.response.status}{moved}, served by {served}"))


def _no_server(plan: Plan, facts: Facts, rows: list[Message]) -> None:
    """No host accepted: curl had no address, or nothing listened where it connected."""
    if plan.tcp is None and not facts.curl.trying:
        name = plan.target_host or "the host"
        rows.append(_note("client", f"DNS {name}: no address", "no-address", failed=True))
        return
    tried = facts.curl.trying[-1] if facts.curl.trying else f"{plan.tcp[0]}:{plan.tcp[1]}" if plan.tcp else "?"
    rows.append(_note("client", f"TCP {tried}: nothing accepted", "tcp", failed=True))


def _tls_rows(plan: Plan, facts: Facts, server: str, rows: list[Message]) -> None:
    if plan.url is None or plan.url.scheme != "https":
        return
    if facts.exit_code == CurlExit.SSL_CERTPROBLEM:
        said = (
            "key does not match the certificate"
            if "private key" in (facts.message or "")
            else "cannot use --cert/--key"
        )
        rows.append(_note("client", f"curl: {said}; nothing sent", "own-cert", failed=True))
        return
    if facts.own_tls_problem is not None:
        rows.append(_note("client", "curl: cannot set up TLS with its options; nothing sent", "usage", failed=True))
        return
    if facts.exit_code == CurlExit.SSL_CACERT_BADFILE:
        if facts.hello_reached_server:  # curl loads its CA file once the ClientHello is out
            rows.append(Message(src="client", dst=server, label="TLS ClientHello", tag="hello"))
        rows.append(_note("client", "curl: cannot load its CA certificates; gives up", "cert-fail", failed=True))
        return
    end = ending(plan, facts)
    if end is not None and end.kind == "not-tls":  # (no host read a ClientHello: it read bytes as HTTP)
        rows.append(Message(src="client", dst=server, label="TLS handshake, read as HTTP", tag="hello"))
        rows.append(Message(src=server, dst="client", label=end.label, tag="hangup", failed=True))
        return
    if not facts.hello_reached_server:
        return
    read, sni = facts.sni_read
    said = f"TLS ClientHello, SNI {sni or 'none'}" if read else "TLS ClientHello"
    rows.append(Message(src="client", dst=server, label=said, tag="hello"))
    problem = facts.curl_cert_problem
    if facts.tls_ok is not None:
        rows.append(Message(src=server, dst="client", label=f"{facts.tls_ok.version} ok, ALPN {facts.tls_ok.alpn}"))
    elif problem is not None or facts.client_cert_refused:
        rows.append(Message(src=server, dst="client", label="ServerHello, certificate"))
    if problem is not None:
        rows.append(_note("client", f"curl refuses the certificate: {_short(problem)}", "cert-fail", failed=True))
    failed = facts.tls_failed
    if failed is not None and facts.client_cert_refused:
        withheld = f" ({failed.chosen_alert} withheld)" if failed.chosen_alert else ""
        label = facts.refusal if failed.alert else f"{facts.refusal.removeprefix('no alert: ')}{withheld}"
        rows.append(Message(src=server, dst="client", label=label, tag="alert", failed=True))
    elif failed is not None and facts.no_common_version:
        alert = failed.alert or facts.alert_in  # the host's report, or what curl received
        label = f"alert {alert}" if alert else "no TLS version in common"
        rows.append(Message(src=server, dst="client", label=label, tag="version", failed=True))
    elif failed is not None and problem is None and facts.tls_ok is None:
        label = end.label if end is not None else "closes: no ServerHello"
        tag = "sni" if failed.alert and end is not None and end.kind == "hello-alert" else "hangup"
        rows.append(Message(src=server, dst="client", label=label, tag=tag, failed=True))


def _short(problem: str) -> str:
    """curl's reason, shortened for an arrow: 'no alternative certificate subject name matches ...' -> name."""
    lowered = problem.lower()
    if "subject name" in lowered or "does not match" in lowered:
        return "name check fails"
    if "expired" in lowered:
        return "expired"
    if "issuer" in lowered or "unknown ca" in lowered or "self" in lowered:
        return "untrusted issuer"
    return problem.removeprefix("SSL certificate problem: ")[:40]


def _note(lane: str, label: str, tag: str, *, failed: bool = False) -> Message:
    return Message(src=lane, dst=lane, label=label, tag=tag, failed=failed)
