"""The hops of a request, in the order a packet meets them, each stated from what was observed.

One function per hop: client resolution, proxy, proxy DNS, TCP target, SNI and Host, server certificate,
client certificate, answer. Each reads :class:`~lab.explain.facts.Facts` (curl's output and the hosts'
events) and, for what curl *meant* - which option chose the proxy, which ``--resolve`` entry answered a
lookup - the :class:`~lab.explain.curlplan.Plan`. A hop says "never" or "nothing" only when a witness
saw that it did not happen; without one it says what it cannot know.

Statuses follow one rule (docs/scenarios.md): ``ok`` it happened and passed; ``fail`` the request failed at
this hop; ``skip`` a failure before it kept it from happening (or it does not apply); ``info`` it happened,
with nothing to pass or fail. So after a proxy's own refusal its DNS is ``skip`` (403 and 407 alike). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from lab.explain import advice
from lab.explain.curlplan import Plan
from lab.explain.decide import HopKey, tls_options_stop
from lab.explain.ending import refused_handshake, sni_choice
from lab.explain.facts import Facts
from lab.explain.route import chosen_by
from lab.model.scenario import Scenario
from lab.protocols.curlexit import CurlExit
from lab.protocols.netaddr import is_ip

Status = Literal["ok", "fail", "skip", "info"]
_HANGUP = {"fin": "closed, no answer", "rst": "reset", "hold": "held until curl gave up"}
_HUNG_UP = {"fin": "closed the connection", "rst": "reset the connection", "hold": "held the connection, silent"}
# Exits that come after curl finished its handshake (and so after its check of the server certificate).
_AFTER_HANDSHAKE = (
    CurlExit.OK, CurlExit.RECV_ERROR, CurlExit.HTTP2_STREAM, CurlExit.HTTP2, CurlExit.GOT_NOTHING,
    CurlExit.OPERATION_TIMEDOUT, CurlExit.PARTIAL_FILE,
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    key: HopKey
    title: str
    text: str
    status: Status = "info"
    decisive: bool = False


def all_hops(plan: Plan, facts: Facts, scenario: Scenario, decisive: HopKey) -> tuple[Hop, ...]:
    """Every hop that applies, the one named by the decision marked decisive."""
    if plan.usage_error or plan.url is None or facts.exit_code == CurlExit.FAILED_INIT:
        found: list[Hop] = [command_line(plan, facts)]
    else:
        dns = proxy_dns(plan, facts)
        found = [
            client_resolution(plan, facts),
            proxy(plan, facts),
            *([dns] if dns else []),
            tcp_target(plan, facts),
            sni_and_host(plan, facts, scenario),
            server_certificate(plan, facts),
            client_certificate(plan, facts, scenario),
            answer(facts),
        ]
    return tuple(replace(h, decisive=h.key == decisive) for h in found)


def command_line(plan: Plan, facts: Facts) -> Hop:
    said = (facts.message or plan.usage_error or "curl refused the command line").removeprefix("curl: ")
    return Hop(key="command-line", title="command line", text=f"{said} - curl sent nothing", status="fail")


def client_resolution(plan: Plan, facts: Facts) -> Hop:
    assert plan.url is not None
    assert plan.lookup is not None
    url, proxy, look = plan.url, plan.proxy, plan.lookup
    if proxy is not None and plan.target_lookup is None:
        if look.address is None:
            text = f"curl cannot resolve the proxy's host {proxy.host}: it is not in the client's hosts file"
            return Hop(key="resolve", title="client resolution", text=text, status="fail")
        pinned = [r for r in plan.options.resolve if _names(r, url.host)]
        unused = f" --resolve {pinned[0]} sits in curl's DNS cache, unused." if pinned else ""
        if plan.resolver == "nobody":
            text = (
                f"curl looks up only the proxy's host {proxy.host} ({look.how}); "
                f"the target {plan.target_host} is an address."
            )
        else:
            text = (
                f"curl looks up only the proxy's host {proxy.host} ({look.how}); it sends the name "
                f"{plan.target_host} to the proxy unresolved.{unused}"
            )
        return Hop(key="resolve", title="client resolution", text=_connect_to(plan) + text)
    found = plan.target_lookup or look
    how = {"hosts file": f"the hosts file ({found.entry})", "--resolve": f"--resolve {found.entry}"}.get(found.how)
    text = f"{found.name} → {found.listed} from {how}" if found.address else f"{found.name}: not in the hosts file"
    if found.more:
        text += "; curl tries them in order, until one accepts"
    if found.how == "IP literal":
        text = f"{found.name} is an IP address: no lookup"
    elif found.how != "--resolve":
        text += _unused_resolve(plan.options.resolve, found.name, found.port)
    status: Status = "ok" if found.address else "fail"
    return Hop(key="resolve", title="client resolution", text=_connect_to(plan) + text, status=status)


def _connect_to(plan: Plan) -> str:
    """The --connect-to swap, said first: it happens before any lookup, with or without a proxy."""
    if not plan.connect_to or plan.url is None:
        return ""
    url, target = plan.url, f"{plan.target_host}:{plan.target_port}"
    return f"--connect-to {plan.connect_to} replaces {url.host}:{url.port} with {target}; "


def _names(entry: str, name: str) -> bool:
    """A --resolve entry for ``name`` (or for every name: ``*``), whatever its port."""
    return entry.lstrip("+").lower().startswith((f"{name.lower()}:", "*:"))


def _unused_resolve(entries: tuple[str, ...], name: str, port: int) -> str:
    """A --resolve entry for this name that curl did not use (another port), said so the learner sees why."""
    others = [e for e in entries if _names(e, name)]
    if not others:
        return ""
    return f"; --resolve {others[0]} is for another port (curl looks up {name}:{port}), unused"


def proxy(plan: Plan, facts: Facts) -> Hop:
    chosen = plan.proxy
    if chosen is None:
        text = plan.no_proxy or "none: no -x and no proxy variable for this URL"
        if plan.ignored_env and not plan.no_proxy:
            text = "none: " + "; ".join(plan.ignored_env)
        return Hop(key="proxy", title="proxy", text=text, status="skip")
    text = f"{chosen.scheme}://{chosen.address}, chosen by {chosen_by(chosen)}"
    if plan.lookup is not None and plan.lookup.address is None:
        return Hop(key="proxy", title="proxy", text=f"{text}; curl had no address for it", status="skip")
    if facts.proxy is None:
        failed = f" (curl: {facts.message})" if facts.message else ""
        return Hop(
            key="proxy", title="proxy", text=f"{text}: nothing accepted a connection there{failed}", status="fail"
        )
    if facts.proxy_limit is not None and facts.asked is None:
        said = f"it closed the connection before any request: {facts.proxy_limit.summary}"
        return Hop(key="proxy", title="proxy", text=f"{text}; {said}", status="fail")
    if tls_options_stop(plan, facts) == "proxy":
        said = f"no ClientHello: curl could not set up TLS with its options ({facts.own_tls_problem})"
        return Hop(key="proxy", title="proxy", text=f"{text}; {said}", status="fail")
    tls, tls_failed = _proxy_tls(plan, facts)
    if tls_failed:
        return Hop(key="proxy", title="proxy", text=f"{text}; {tls}", status="fail")
    refused = facts.refused
    if refused is not None and facts.proxy_refused_itself:
        said = refused.summary or refused.reason
        return Hop(key="proxy", title="proxy", text=f"{text}{tls}; it refused: {said}", status="fail")
    return Hop(key="proxy", title="proxy", text=f"{text}{tls}")


def _proxy_tls(plan: Plan, facts: Facts) -> tuple[str, bool]:
    """What the TLS to an HTTPS proxy (or curl's TLS to a plain one) came to: (words, whether it failed)."""
    assert plan.proxy is not None
    scheme = plan.proxy.scheme
    if scheme == "https" and not facts.proxy_https and facts.proxy_garbage is not None:
        return "curl spoke TLS to it, and it speaks plain HTTP (it could not read the ClientHello)", True
    if scheme != "https" and facts.proxy_https and facts.proxy_tls_failed is not None:
        return "curl spoke plain HTTP to it, and it speaks TLS (-x https://)", True
    if not facts.proxy_https:
        return "", False
    failed = facts.proxy_tls_failed
    if failed is not None and facts.proxy_client_cert_refused:
        sent = plan.options.last("proxy-cert")
        what = f"refused {sent}: {failed.detail or failed.status_details}" if sent else "got none"
        return f"it asked curl for a client certificate (--proxy-cert) and {what}", True
    problem = facts.proxy_cert_problem
    if problem is not None:
        return f"curl refused the proxy's certificate: {problem}", True
    said = facts.proxy_curl.verify_result if facts.proxy_curl else None
    if plan.options.flag("proxy-insecure"):
        return "; TLS to the proxy, its certificate not checked (--proxy-insecure)", False
    if said == "ok" or facts.asked is not None:
        how = "curl: SSL certificate verify ok" if said == "ok" else "curl went on to ask it"
        return f"; TLS to the proxy, its certificate verified ({how})", False
    return "; TLS to the proxy", False


def ask_label(facts: Facts) -> str:
    """What the proxy was asked, as it received it: "CONNECT mydomain:443", "GET http://plain/"..."""
    asked = facts.asked
    if asked is None:
        return ""
    if asked.line:
        return asked.line.rsplit(" HTTP/", 1)[0]
    return f"{asked.method} {asked.target}".strip()


def proxy_dns(plan: Plan, facts: Facts) -> Hop | None:
    if plan.proxy is None:
        return None
    asked = facts.asked
    if asked is None:
        why = "no proxy accepted curl's connection" if facts.proxy is None else "curl asked the proxy for nothing"
        if facts.proxy is not None and (facts.stopped_at_proxy or facts.refused is not None):
            why = "the proxy stopped curl first"
        if facts.proxy_tls_failed is not None and plan.proxy is not None and plan.tunnel:
            why = (
                f"curl sent {plan.tunnel_kind} {plan.tunnel} in plain HTTP, which the proxy (TLS) could not read"
                if plan.proxy.scheme != "https"
                else f"curl's {plan.tunnel_kind} {plan.tunnel} came after the proxy's TLS had refused it"
            )
        return Hop(key="proxy-dns", title="proxy DNS", text=f"never asked: {why}", status="skip")
    resolved, refused = facts.resolved, facts.refused
    if resolved is not None and resolved.table == "IP literal":
        dns = f"{resolved.name} is an address: the proxy makes no lookup ({resolved.upstream})"
    elif resolved is not None:
        dns = f"the proxy's own DNS says {resolved.name} → {resolved.address} ({resolved.upstream})"
    elif refused is not None and facts.proxy_refused_itself:
        dns = f"no lookup: the proxy refused first ({refused.status or _HANGUP.get(refused.hangup, 'no tunnel')})"
    elif refused is not None:
        dns = f"refused: {refused.summary or refused.reason}"
    else:
        dns = "no lookup reported"
    # one rule for every hop: ✗ where the request failed, · where a refusal before it kept it from happening
    status: Status = "ok" if resolved is not None else "skip"
    if refused is not None and resolved is None and not facts.proxy_refused_itself:
        if is_ip(asked.target.rpartition(":")[0].strip("[]")):  # an address: no lookup, the TCP target failed
            dns = "an address: the proxy makes no lookup"
        else:
            status = "fail"  # the proxy had no address for the name, or could not reach the one it had
    return Hop(key="proxy-dns", title="proxy DNS", text=f"asked {ask_label(facts)}; {dns}", status=status)


def tcp_target(plan: Plan, facts: Facts) -> Hop:
    if facts.server is not None:
        through = f", via {facts.proxy}" if facts.proxy else ""
        return Hop(
            key="tcp", title="TCP target", text=f"{facts.server} at {facts.server_address}{through}", status="ok"
        )
    refused = facts.refused
    if refused is not None and facts.asked is not None and not facts.proxy_refused_itself:
        target = facts.asked.target
        if is_ip(target.rpartition(":")[0].strip("[]")):
            text = f"the proxy could not reach {target}: {refused.summary or refused.reason}"
            return Hop(key="tcp", title="TCP target", text=text, status="fail")
    if plan.proxy is not None:  # the proxy connects to the target: without a tunnel, no connection
        return Hop(key="tcp", title="TCP target", text="none: no tunnel was opened", status="skip")
    tried = facts.curl.trying[-1] if facts.curl.trying else (f"{plan.tcp[0]}:{plan.tcp[1]}" if plan.tcp else None)
    if tried is None:
        return Hop(key="tcp", title="TCP target", text="none: curl had no address to connect to", status="skip")
    said = f" (curl: {facts.message})" if facts.message else ""
    return Hop(key="tcp", title="TCP target", text=f"nothing accepted a connection at {tried}{said}", status="fail")


def sni_and_host(plan: Plan, facts: Facts, scenario: Scenario) -> Hop:
    assert plan.url is not None

    def hop(text: str, status: Status = "info") -> Hop:
        return Hop(key="sni", title="SNI and Host", text=text + header, status=status)

    header = ""

    host = f", Host {facts.request.authority}" if facts.request else ""
    if plan.url.scheme != "https":
        return hop(f"no TLS ({plan.url.scheme}://){host}", "skip")
    stop = tls_options_stop(plan, facts)
    if stop == "proxy":
        return hop("no ClientHello: curl stopped at the proxy", "skip")
    if stop == "sni":
        return hop(f"no ClientHello: curl could not set up TLS with its options ({facts.own_tls_problem})", "fail")
    read, sni = facts.sni_read
    if read or facts.hello_sent:  # said where a ClientHello went out: its SNI did not follow the header
        header = advice.host_header_note(plan)
    if facts.no_common_version and facts.server:
        return hop(f"no TLS version in common: {advice.versions(plan, facts)}; the handshake ended there", "fail")
    named = sni or ("none (the URL's host is an IP address)" if plan.url.ip_literal else "none")
    failed = facts.tls_failed
    if read and failed is not None and failed.stopped == "client-hello":  # the server's answer to the ClientHello
        did = f"answered it with alert {failed.alert}" if failed.alert else _HUNG_UP.get(failed.hangup, "hung up")
        return hop(f"SNI {named}; {facts.server} {did}, no ServerHello", "fail")
    choice = sni_choice(plan, facts, scenario) if read else None
    if choice is not None:  # a load balancer chose its certificate by it
        return hop(f"SNI {named}, so {facts.server} presented its primary certificate ({choice[1]})", "fail")
    if read and failed is not None and refused_handshake(facts):
        return hop(f"SNI {named}; {facts.server} refused the handshake with alert {failed.alert}", "fail")
    if read:
        return hop(f"SNI {named}{host}")
    if facts.server_garbage is not None and facts.tls_ok is None and failed is None:
        return hop(f"curl's ClientHello reached {facts.server}, which does not speak TLS there", "fail")
    if facts.hello_reached_server:
        return hop(f"a ClientHello reached {facts.server}, which did not report its SNI", "skip")
    if facts.hello_sent:
        return hop("curl sent a ClientHello, but no lab host read it", "skip")
    if facts.hello_sent is False or facts.bytes_in == 0:
        why = "curl stopped before TLS" if facts.server else "no TCP connection to a server"
        return hop(f"no ClientHello was sent: {why}", "skip")
    return hop("no ClientHello: no server accepted a TCP connection" if not facts.server else "no TLS handshake seen",
               "skip")  # fmt: skip


def server_certificate(plan: Plan, facts: Facts) -> Hop:
    assert plan.url is not None

    def hop(text: str, status: Status) -> Hop:
        return Hop(key="server-cert", title="server certificate", text=text, status=status)

    if plan.url.scheme != "https":
        return hop("none: no TLS", "skip")
    problem = facts.curl_cert_problem
    if problem is not None and facts.exit_code == CurlExit.SSL_CACERT_BADFILE:
        return hop(f"never checked: curl could not load the CA certificates to check it with ({problem})", "fail")
    if problem is not None:
        return hop(f"curl refused it: {problem}", "fail")
    if not facts.hello_reached_server:
        return hop("never received: no TLS handshake with a server", "skip")
    failed = facts.tls_failed
    if failed is not None and failed.stopped == "server-hello":
        return hop(f"never received: {facts.server} sent its ServerHello and hung up before its certificate", "fail")
    if facts.bytes_out == 0 or (facts.verbose and "IN Server hello" not in facts.curl.handshake):
        return hop(f"never received: {facts.server} sent no ServerHello", "skip")
    if failed is not None and (failed.stopped == "client-hello" or refused_handshake(facts)):
        return hop(f"never received: {facts.server} ended the handshake at the ClientHello", "skip")
    if plan.verify_name is None or (facts.curl.verify_result not in (None, "ok")):
        why = f" (curl: {facts.curl.verify_result}, continuing anyway)" if facts.curl.verify_result else ""
        return hop(f"not checked (-k){why}", "skip")
    if facts.curl.verify_result == "ok":
        return hop(f"valid for {plan.verify_name}, trusted (curl: SSL certificate verify ok)", "ok")
    judged = facts.server_judged_client_cert
    tls12_refused = facts.client_cert_refused and facts.tls_failed is not None and facts.tls_failed.version != "TLSv1.3"
    if judged and tls12_refused:
        return hop("its chain passed curl's check (curl went on to send its own certificate); "
                   "the name check never ran: the handshake failed first", "ok")  # fmt: skip
    if judged or (facts.tls_ok is not None and facts.exit_code in _AFTER_HANDSHAKE):
        return hop(f"valid for {plan.verify_name}, trusted (curl finished the handshake and went on)", "ok")
    return hop("sent, but curl's verdict was not observed", "skip")


def client_certificate(plan: Plan, facts: Facts, scenario: Scenario) -> Hop:
    def hop(text: str, status: Status) -> Hop:
        return Hop(key="client-cert", title="client certificate", text=text, status=status)

    if facts.exit_code == CurlExit.SSL_CERTPROBLEM:
        _, fact = advice.own_certificate(facts.message or "", plan)
        sent = f"; {facts.server} received {facts.bytes_in} bytes" if facts.server and facts.bytes_in == 0 else ""
        return hop(f"{fact}{sent}", "fail")
    host = scenario.hosts.get(facts.server or "")
    offered = f" ({plan.client_cert} stayed unused)" if plan.client_cert else ""
    if host is None:
        return hop(f"never asked: no server was reached{offered}", "skip")
    policy = getattr(host.settings, "client_cert", None)  # an origin that asks for one (OpenSSL checks it)
    if host.kind != "glb" and policy is None:
        return hop(f"{facts.server} does not ask for one{offered}", "skip")
    mode = getattr(host.settings, "mode", None) or ("required" if getattr(policy, "require", False) else "optional")
    if host.kind == "glb" and getattr(host.settings, "mode", None) is None:
        return hop(f"{facts.server} has no mTLS policy: it does not check one{offered}", "skip")
    failed, ok = facts.tls_failed, facts.tls_ok
    if failed is not None and facts.client_cert_refused:
        said, cert = f"{failed.status_details}, {facts.refusal}", advice.shown_cert(failed, plan)
        text = (
            f"{facts.server} asked for one; none was sent ({said})"
            if failed.client_cert is None
            else f"{facts.server} refused {cert}: {failed.detail or failed.status_details} ({said})"
        )
        late = " - after curl had already refused the server's certificate" if facts.curl_cert_problem else ""
        return hop(text + late, "fail")
    if ok is not None:
        cert = ok.client_cert or "none sent"
        if ok.verdict:
            return hop(f"{cert}: {ok.verdict}, let through by {mode}", "info")
        return hop(f"{cert}: verified", "ok")
    return hop(f"never judged: the handshake did not reach {facts.server}'s client-certificate check", "skip")


def answer(facts: Facts) -> Hop:
    response = facts.response
    before = "".join(f"{r.host}: HTTP {r.status} → {r.location} (-L followed it); " for r in facts.redirects)
    if response is not None:
        behind = f", served by backend {facts.forwarded.backend}" if facts.forwarded else ""
        moved = f" → {response.location} (not followed)" if response.location and 300 <= response.status < 400 else ""
        text = f"{before}{response.host}: HTTP {response.status}{moved}{behind}"
        return Hop(key="answer", title="answered", text=text, status="ok")
    if facts.limit is not None and facts.server:
        text = f"{before}nobody: {facts.server} stopped at its limits.{facts.limit.limit}: {facts.limit.summary}"
        return Hop(key="answer", title="answered", text=f"{text} (curl exit {facts.exit_code})", status="fail")
    if facts.no_answer is not None and facts.server:
        text = f"{before}nobody: {facts.server} read the request and gave no answer ({facts.no_answer.how})"
        return Hop(key="answer", title="answered", text=f"{text} (curl exit {facts.exit_code})", status="fail")
    if facts.exit_code > 128:  # the shell's status for a process ended by a signal: 130 is Ctrl-C
        how = "Ctrl-C" if facts.exit_code == 130 else f"signal {facts.exit_code - 128}"
        return Hop(key="answer", title="answered", text=f"nobody before curl was stopped ({how})", status="fail")
    said = f": {facts.message}" if facts.message else ""
    return Hop(
        key="answer", title="answered", text=f"{before}nobody (curl exit {facts.exit_code}{said})", status="fail"
    )
